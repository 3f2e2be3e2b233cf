//! What an administrator keeps besides accounts: the units of its area, the grids' staff, the
//! dispatch rules and the category book with its deadlines. Each is read here as the tables the
//! command line imports, and replaced from the same CSV through the same importers (checked whole
//! before anything is written). Every use case checks that the person administers, and keeps to
//! their area: a centre's administrator reads and changes its division's subtree. The category
//! book is one for the whole server: administrators at a city's or the province's centre change
//! it, any administrator reads it.

use pingan_core::access::Role;
use pingan_core::{DivisionCode, Level, Reason};
use pingan_store::units::{DispatchRule, GridMember, UnitRow};

use crate::access::{AccessError, Principal};
use crate::categories::DEFAULT_CATEGORIES;
use crate::context::Context;
use crate::{AppError, units};

/// The division whose subtree `by` administers; refused to anyone who does not administer.
pub fn area(by: &Principal) -> Result<DivisionCode, AppError> {
    by.division()
        .filter(|_| by.has(Role::Administrator))
        .ok_or_else(|| AccessError::Forbidden(Reason::new("管理本辖区", "administering an area")).into())
}

/// The part of `by`'s area under `under` (empty: all of it); a division outside it is refused.
pub fn within(by: &Principal, under: &str) -> Result<String, AppError> {
    let area = area(by)?;
    let under = under.trim();
    if under.is_empty() {
        return Ok(area.to_string());
    }
    if under.starts_with(area.as_str()) {
        return Ok(under.to_owned());
    }
    Err(AccessError::Forbidden(Reason::new("查看本辖区以外的单位", "reading outside your area")).into())
}

/// What a file uploaded from a spreadsheet begins with and the importers do not expect.
fn without_byte_order_mark(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// The departments, service providers and leaders' posts stored under `under` within `by`'s area,
/// ordered by division and id.
pub async fn units(context: &Context, by: &Principal, under: &str) -> Result<Vec<UnitRow>, AppError> {
    let prefix = within(by, under)?;
    Ok(context.store().units(&prefix).await?)
}

/// The staff of the grids under `under` within `by`'s area, ordered by grid and position.
pub async fn grid_staff(context: &Context, by: &Principal, under: &str) -> Result<Vec<GridMember>, AppError> {
    let prefix = within(by, under)?;
    Ok(context.store().grid_staff(&prefix).await?)
}

/// Replaces the staff of the grids a CSV names (`grid,role,name`), all of them in `by`'s area:
/// the file is checked whole, and a bad line refuses it with nothing written.
pub async fn import_grid_staff(context: &Context, by: &Principal, text: &str, source: &str) -> Result<usize, AppError> {
    let area = area(by)?;
    let text = without_byte_order_mark(text);
    units::import_grid_staff_within(context.store(), text, source, area.as_str()).await
}

/// The dispatch rules for divisions in `by`'s area, by category then division.
pub async fn dispatch_rules(context: &Context, by: &Principal) -> Result<Vec<DispatchRule>, AppError> {
    let area = area(by)?;
    let book = context.categories();
    let mut rules = Vec::new();
    for category in book.leaves() {
        let found = context.store().dispatch_rules(&category.code).await?;
        rules.extend(found.into_iter().filter(|rule| rule.division.as_str().starts_with(area.as_str())));
    }
    Ok(rules)
}

/// Adds or replaces the dispatch rules a CSV gives (`category,division,unit`), every division in
/// `by`'s area: checked whole, nothing written on a bad line. They take effect at once.
pub async fn import_dispatch_rules(
    context: &Context,
    by: &Principal,
    text: &str,
    source: &str,
) -> Result<usize, AppError> {
    let area = area(by)?;
    let text = without_byte_order_mark(text);
    let book = context.categories();
    let count = units::import_dispatch_rules_within(context.store(), text, source, &book, area.as_str()).await?;
    context.refresh_catalog().await?;
    Ok(count)
}

/// The category book in force as its CSV, and its version: what any administrator may read.
pub async fn category_book(context: &Context, by: &Principal) -> Result<(i64, String), AppError> {
    area(by)?;
    Ok(match context.store().latest_categories().await? {
        Some(latest) => latest,
        None => (context.categories().version(), DEFAULT_CATEGORIES.to_owned()),
    })
}

/// Whether `by` may change the category book: an administrator at a city's or the province's
/// centre (the book holds for the whole server).
pub fn may_change_categories(by: &Principal) -> bool {
    area(by).is_ok_and(|area| matches!(area.level(), Level::City | Level::Province))
}

/// Stores a CSV as the next version of the category book and puts it in force at once; refused
/// whole on a bad line or a category of the book in force left out. Answers the new version.
pub async fn import_categories(context: &Context, by: &Principal, text: &str, source: &str) -> Result<i64, AppError> {
    if !may_change_categories(by) {
        return Err(AccessError::Forbidden(Reason::new(
            "修改事项分类（须为市级或省级管理员）",
            "changing the category book (a city's or the province's administrator does)",
        ))
        .into());
    }
    let text = without_byte_order_mark(text);
    let source = format!("{source} ({})", by.login);
    let version = crate::categories::import_categories(context.store(), text, &source, context.timestamp()).await?;
    context.refresh_catalog().await?;
    Ok(version)
}
