//! The IO-free heart of Pingan: values that cannot be invalid once constructed, and the vocabulary
//! every layer uses to explain a refusal. Nothing here touches a file, a socket or a clock.

/// The text form of a code or identity, from its `parse` and its `Display`: `FromStr`,
/// `TryFrom<String>` and `Into<String>` (what serde's `try_from`/`into` use), written once. With a
/// field, the text is that field (a newtype over its text), without a copy.
macro_rules! text_form {
    ($type:ident, $error:ty) => {
        text_form!(@parse $type, $error);
        impl From<$type> for String {
            fn from(value: $type) -> String {
                value.to_string()
            }
        }
    };
    ($type:ident, $error:ty, $field:tt) => {
        text_form!(@parse $type, $error);
        impl From<$type> for String {
            fn from(value: $type) -> String {
                value.$field
            }
        }
    };
    (@parse $type:ident, $error:ty) => {
        impl std::str::FromStr for $type {
            type Err = $error;

            fn from_str(text: &str) -> Result<$type, $error> {
                $type::parse(text)
            }
        }

        impl TryFrom<String> for $type {
            type Error = $error;

            fn try_from(text: String) -> Result<$type, $error> {
                $type::parse(&text)
            }
        }
    };
}

pub mod access;
pub mod actor;
pub mod calendar;
pub mod case;
pub mod category;
pub mod division;
pub mod lifecycle;
pub mod month;
pub mod problem;
pub mod timestamp;
pub mod unit;

pub use actor::Actor;
pub use division::{DivisionCode, GridCode, Level};
pub use month::Month;
pub use problem::{Explain, Reason};
pub use timestamp::Timestamp;
pub use unit::{LeaderPost, Unit};

/// The rows of a data file in CSV (RFC 4180 quoting, `#` comment lines, fields trimmed), each with
/// its line number; a row whose first field is `header` is the header, and left out. A row the
/// reader cannot make out is an error naming its line.
pub fn csv_rows(text: &str, header: &str) -> Vec<Result<(usize, csv::StringRecord), (usize, String)>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let line =
        |position: Option<&csv::Position>| position.map_or(0, |p| usize::try_from(p.line()).unwrap_or(usize::MAX));
    reader
        .records()
        .filter_map(|record| match record {
            Ok(record) if record.get(0) == Some(header) => None,
            Ok(record) if record.iter().all(str::is_empty) => None,
            Ok(record) => Some(Ok((line(record.position()), record))),
            Err(error) => Some(Err((line(error.position()), error.to_string()))),
        })
        .collect()
}

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
