//! The IO-free heart of Pingan: values that cannot be invalid once constructed, and the vocabulary
//! every layer uses to explain a refusal. Nothing here touches a file, a socket or a clock.

pub mod access;
pub mod calendar;
pub mod case;
pub mod category;
pub mod division;
pub mod lifecycle;
pub mod month;
pub mod problem;
pub mod unit;

pub use division::{DivisionCode, GridCode, Level};
pub use month::Month;
pub use problem::{Explain, Reason};
pub use unit::Unit;

/// `bytes` as lower-case hex, two digits each (how hashes and signatures are written).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes.iter().flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xf)]]).map(char::from).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_writes_two_lower_case_digits_a_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(super::hex(&[]), "");
    }
}
