//! Workbooks for the offices: the monthly ranking bulletin as XLSX, one sheet per table, Chinese
//! headers, the header row frozen, rates as percentages; and any table of text (an export of
//! cases) as one sheet. Every text goes in as text, never as a formula, whatever somebody typed.

use pingan_app::rankings::Bulletin;
use rust_xlsxwriter::{Format, FormatAlign, Workbook, Worksheet, XlsxError};

/// The bulletin as an XLSX file: 排名 (every unit), 约谈名单 (the laggards), 权重 (how it was scored).
pub fn bulletin_workbook(bulletin: &Bulletin) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let header = Format::new().set_bold().set_background_color(0xF1F3F5).set_align(FormatAlign::Center);
    let percent = Format::new().set_num_format("0.00%");
    let score = Format::new().set_num_format("0.00");
    let title = format!("{} {} 排名通报", bulletin.division_name, bulletin.month);

    let ranking = workbook.add_worksheet().set_name("排名")?;
    let columns = [
        ("名次", 6.0),
        ("名称", 28.0),
        ("编码", 26.0),
        ("综合得分", 10.0),
        ("上报", 8.0),
        ("办结", 8.0),
        ("办结率", 10.0),
        ("按期办结率", 12.0),
        ("满意率", 10.0),
        ("退回率", 10.0),
        ("超期", 8.0),
        ("约谈", 6.0),
        ("原因", 30.0),
    ];
    heading(ranking, &title, &columns, &header)?;
    for (row, entry) in (2u32..).zip(&bulletin.entries) {
        let f = &entry.figures;
        if let Some(rank) = entry.rank {
            ranking.write_number(row, 0, rank)?;
        }
        ranking.write_string(row, 1, &entry.name)?;
        ranking.write_string(row, 2, &entry.code)?;
        if let Some(value) = entry.score {
            ranking.write_number_with_format(row, 3, value, &score)?;
        }
        ranking.write_number(row, 4, f.reported as f64)?;
        ranking.write_number(row, 5, f.closed as f64)?;
        for (column, rate) in [(6, f.closure_rate), (7, f.on_time_rate), (8, f.satisfaction_rate), (9, f.return_rate)] {
            if let Some(rate) = rate {
                ranking.write_number_with_format(row, column, rate, &percent)?;
            }
        }
        ranking.write_number(row, 10, f.overdue as f64)?;
        ranking.write_string(row, 11, if entry.laggard { "是" } else { "" })?;
        ranking.write_string(row, 12, entry.reasons_zh.join("；"))?;
    }

    let summoned = workbook.add_worksheet().set_name("约谈名单")?;
    heading(summoned, &title, &[("名次", 6.0), ("名称", 28.0), ("综合得分", 10.0), ("原因", 40.0)], &header)?;
    for (row, entry) in (2u32..).zip(bulletin.laggards()) {
        if let Some(rank) = entry.rank {
            summoned.write_number(row, 0, rank)?;
        }
        summoned.write_string(row, 1, &entry.name)?;
        if let Some(value) = entry.score {
            summoned.write_number_with_format(row, 2, value, &score)?;
        }
        summoned.write_string(row, 3, entry.reasons_zh.join("；"))?;
    }

    let weights = workbook.add_worksheet().set_name("权重")?;
    heading(weights, &title, &[("项目", 24.0), ("权重或界线", 14.0)], &header)?;
    let w = &bulletin.weights;
    let rows: [(&str, f64); 7] = [
        ("办结率", w.closure.into()),
        ("按期办结率", w.on_time.into()),
        ("满意率", w.satisfaction.into()),
        ("未退回率", w.returns.into()),
        ("未超期率", w.overdue.into()),
        ("约谈分数线（低于）", w.laggard_below),
        ("末位约谈数", w.laggard_last.into()),
    ];
    for (row, (name, value)) in (2u32..).zip(rows) {
        weights.write_string(row, 0, name)?;
        weights.write_number(row, 1, value)?;
    }
    workbook.save_to_buffer()
}

/// A sheet's title in its first row and its headings in the second, frozen with the title.
fn heading(sheet: &mut Worksheet, title: &str, columns: &[(&str, f64)], header: &Format) -> Result<(), XlsxError> {
    sheet.write_string_with_format(0, 0, title, &Format::new().set_bold().set_font_size(14))?;
    for (column, (name, width)) in (0u16..).zip(columns) {
        sheet.write_string_with_format(1, column, *name, header)?;
        sheet.set_column_width(column, *width)?;
    }
    sheet.set_freeze_panes(2, 0)?;
    Ok(())
}

/// A table as a one-sheet workbook named `sheet`: the header row bold and frozen, every cell text.
pub fn table_workbook(sheet: &str, header: &[&str], records: &[Vec<String>]) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold().set_background_color(0xF1F3F5);
    let table = workbook.add_worksheet().set_name(sheet)?;
    for (column, name) in (0u16..).zip(header) {
        table.write_string_with_format(0, column, *name, &bold)?;
        table.set_column_width(column, 14.0)?;
    }
    for (row, record) in (1u32..).zip(records) {
        for (column, value) in (0u16..).zip(record) {
            table.write_string(row, column, value)?;
        }
    }
    table.set_freeze_panes(1, 0)?;
    workbook.save_to_buffer()
}
