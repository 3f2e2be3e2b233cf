//! Checks of what people type, shared by every domain: trimmed, bounded, printable text; unit
//! names; links.

use pingan_core::{Reason, Unit};

use crate::AppError;

/// `value` trimmed: required, at most `max` characters, printable.
pub(crate) fn text(value: Option<&str>, field: &'static str, max: usize) -> Result<String, AppError> {
    let value = value.map(str::trim).filter(|v| !v.is_empty()).ok_or(AppError::MissingField(field))?;
    if value.chars().count() > max {
        return Err(AppError::TooLong { field, max });
    }
    printable(value, field)?;
    Ok(value.to_owned())
}

/// Refuses control characters other than line breaks and tabs: none belongs in what a person
/// types, and each would travel raw into exports and other systems.
pub(crate) fn printable(value: &str, field: &'static str) -> Result<(), AppError> {
    if value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(AppError::InvalidField {
            field,
            reason: Reason::new("不能包含控制字符", "control characters are not allowed"),
        });
    }
    Ok(())
}

/// Checks a unit name (see [`Unit`]).
pub(crate) fn checked_unit(name: &str) -> Result<String, AppError> {
    Unit::parse(name).map(|_| name.to_owned()).map_err(|_| AppError::BadUnit(name.to_owned()))
}

/// The longest URL taken.
const MAX_URL: usize = 2000;

/// `url` if it is an http or https URL naming a host.
pub(crate) fn checked_url(field: &'static str, url: &str) -> Result<String, AppError> {
    let invalid = |reason| AppError::InvalidField { field, reason };
    let url = url.trim();
    if url.len() > MAX_URL {
        return Err(AppError::TooLong { field, max: MAX_URL });
    }
    let uri: http::Uri = url.parse().map_err(|_| invalid(Reason::new("不是网址", "not a URL")))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(invalid(Reason::new("只接受 http:// 或 https:// 网址", "only http:// and https:// URLs")));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid(Reason::new("网址缺少主机名", "the URL names no host")));
    }
    Ok(url.to_owned())
}
