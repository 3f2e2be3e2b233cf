//! Use cases: what the CLI and the web layer ask of Pingan, written once over the storage traits.
//! Nothing here knows HTTP, the terminal or a particular database engine.

pub mod access;
pub mod accounts;
pub mod address_windows;
pub mod administration;
pub mod cases;
pub mod categories;
pub mod clock;
pub mod context;
pub mod demo;
pub mod error;
pub mod fields;
pub mod geography;
pub mod idempotency;
pub mod indicators;
pub mod personal;
pub mod progress;
pub mod rankings;
pub mod simulate;
pub mod targets;
pub mod units;
pub mod webhooks;

pub use error::AppError;
pub use geography::atlas::{Atlas, Routed};
pub use geography::jiangxi;
pub use progress::{Progress, Silent};
