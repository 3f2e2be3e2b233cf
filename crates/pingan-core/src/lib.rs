//! The IO-free heart of Pingan: values that cannot be invalid once constructed, and the vocabulary
//! every layer uses to explain a refusal. Nothing here touches a file, a socket or a clock.

pub mod access;
pub mod calendar;
pub mod case;
pub mod category;
pub mod division;
pub mod lifecycle;
pub mod problem;

pub use division::{DivisionCode, GridCode, Level};
pub use problem::Explain;

/// `bytes` as lower-case hex, two digits each (how hashes and signatures are written).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
