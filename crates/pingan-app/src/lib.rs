//! Use cases: what the CLI and the web layer ask of Pingan, written once over the storage traits.
//! Nothing here knows HTTP, the terminal or a particular database engine.

pub mod access;
pub mod accounts;
pub mod address_windows;
pub mod atlas;
pub mod audit;
pub mod categories;
pub mod clock;
mod counts;
pub mod demo;
pub mod divisions;
pub mod engine;
pub mod error;
pub mod geography;
pub mod indicators;
pub mod jiangxi;
pub mod personal;
pub mod photos;
pub mod progress;
pub mod scheduler;
pub mod simulate;
pub mod targets;
pub mod units;
pub mod webhooks;

pub use atlas::{Atlas, Routed};
pub use error::AppError;
pub use progress::{Progress, Silent};
