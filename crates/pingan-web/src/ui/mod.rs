//! Server-rendered pages: the workbench's frame (`shell`), then one module per domain. Chinese by
//! default, English from the switch on every page; no CDN.

pub mod accounts;
pub mod admin;
pub mod assets;
pub mod cases;
pub mod centre;
pub mod desk;
pub mod geography;
pub mod kept;
pub mod map;
pub mod rankings;
pub mod shell;
pub mod tokens;
