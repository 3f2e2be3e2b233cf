//! Server-rendered pages, in Chinese with English alongside; no script, no CDN.

pub mod accounts;
pub mod geography;
pub mod map;
