//! CSV attachments, safe to open in a spreadsheet.

use axum::http::StatusCode;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// Text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, return) gets a
/// leading quote: descriptions, reasons and names are whatever somebody typed. Control characters
/// other than line breaks and tabs (refused at intake, but older records may hold them) become
/// U+FFFD, so no terminal or importer downstream acts on them.
pub fn inert_in_spreadsheets(text: String) -> String {
    let text = if text.chars().any(is_stray_control) {
        text.chars().map(|c| if is_stray_control(c) { '\u{FFFD}' } else { c }).collect()
    } else {
        text
    };
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text }
}

fn is_stray_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
}

/// An export that could not be written (the error is logged, not shown).
pub fn export_failed(error: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(%error, "could not write an export");
    ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "export_failed",
        message_zh: "导出失败".into(),
        message_en: "the export could not be written".into(),
        details: None,
    }
}

/// A CSV download named `filename`: a byte-order mark (so spreadsheets read the Chinese as
/// UTF-8), the header, then the records.
pub fn csv_attachment(filename: &str, header: &[&str], records: Vec<Vec<String>>) -> Result<Response, ApiError> {
    let failed = |error: csv::Error| export_failed(&error);
    let mut writer = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    writer.write_record(header).map_err(failed)?;
    for record in records {
        writer.write_record(&record).map_err(failed)?;
    }
    let bytes = writer.into_inner().map_err(|e| failed(e.into_error().into()))?;
    let disposition = format!("attachment; filename=\"{filename}\"");
    Ok(([(CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (CONTENT_DISPOSITION, disposition)], bytes)
        .into_response())
}

/// The media type of an XLSX workbook.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The same table as [`csv_attachment`] as a one-sheet XLSX workbook.
pub fn xlsx_attachment(filename: &str, header: &[&str], records: Vec<Vec<String>>) -> Result<Response, ApiError> {
    let bytes = crate::xlsx_export::table_workbook("cases", header, &records).map_err(|e| export_failed(&e))?;
    let disposition = format!("attachment; filename=\"{filename}\"");
    Ok(([(CONTENT_TYPE, XLSX.to_owned()), (CONTENT_DISPOSITION, disposition)], bytes).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_is_made_inert_for_spreadsheets_and_terminals() {
        assert_eq!(inert_in_spreadsheets("=HYPERLINK(\"x\")".into()), "'=HYPERLINK(\"x\")");
        assert_eq!(inert_in_spreadsheets("楼道\u{1b}[2J堆物\u{0}".into()), "楼道\u{FFFD}[2J堆物\u{FFFD}");
        assert_eq!(inert_in_spreadsheets("第一行\r\n第二行\t完".into()), "第一行\r\n第二行\t完");
        assert_eq!(inert_in_spreadsheets("\u{7}-1".into()), "\u{FFFD}-1");
    }
}
