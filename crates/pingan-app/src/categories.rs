//! The category book the engine consults. Versions live in the store: the shipped default taxonomy
//! becomes version 1 the first time a database is used, and every edit (a whole new CSV) adds a
//! version. A case keeps the version it was filed under, and the deadlines it was given.

use std::collections::HashMap;

use pingan_core::Timestamp;
use pingan_core::category::{Category, CategoryError, parse_categories, parse_department_kinds};
use pingan_store::Store;

use crate::AppError;

pub const DEFAULT_CATEGORIES: &str = include_str!("../../../data/categories/default.csv");
pub(crate) const DEPARTMENT_KINDS: &str = include_str!("../../../data/categories/departments.csv");

pub struct CategoryBook {
    by_code: HashMap<String, Category>,
    /// The version every category of this book carries; a case keeps the version it was filed under.
    version: i64,
}

impl CategoryBook {
    /// Reads a categories CSV (see data/categories/default.csv) as version `version`.
    pub fn parse(text: &str, version: i64) -> Result<CategoryBook, CategoryError> {
        let categories = parse_categories(text, &parse_department_kinds(DEPARTMENT_KINDS))?;
        Ok(CategoryBook { by_code: categories.into_iter().map(|c| (c.code.clone(), c)).collect(), version })
    }

    pub fn shipped() -> Result<CategoryBook, CategoryError> {
        CategoryBook::parse(DEFAULT_CATEGORIES, 1)
    }

    /// A category cases can be filed under (not a family).
    pub fn leaf(&self, code: &str) -> Option<&Category> {
        self.by_code.get(code).filter(|c| c.parent.is_some())
    }

    /// The categories cases can be filed under that `code` names: itself if cases can be filed
    /// under it, a family's members if it is a family (`dispute`); None if it names neither.
    pub fn codes_under(&self, code: &str) -> Option<Vec<String>> {
        if self.leaf(code).is_some() {
            return Some(vec![code.to_owned()]);
        }
        let members: Vec<String> = self
            .leaves()
            .into_iter()
            .filter(|leaf| leaf.parent.as_deref() == Some(code))
            .map(|leaf| leaf.code.clone())
            .collect();
        (!members.is_empty()).then_some(members)
    }

    /// The families, ordered by code, each followed by its members: the order a chooser shows.
    pub fn grouped(&self) -> Vec<&Category> {
        let mut families: Vec<&Category> = self.by_code.values().filter(|c| c.parent.is_none()).collect();
        families.sort_by(|a, b| a.code.cmp(&b.code));
        let leaves = self.leaves();
        families
            .into_iter()
            .flat_map(|family| {
                let members =
                    leaves.iter().copied().filter(|leaf| leaf.parent.as_deref() == Some(family.code.as_str()));
                std::iter::once(family).chain(members.collect::<Vec<_>>())
            })
            .collect()
    }

    /// Every category cases can be filed under, ordered by code.
    pub fn leaves(&self) -> Vec<&Category> {
        let mut leaves: Vec<&Category> = self.by_code.values().filter(|c| c.parent.is_some()).collect();
        leaves.sort_by(|a, b| a.code.cmp(&b.code));
        leaves
    }

    /// The family of the category `code` (None for a code this book does not hold).
    pub fn family_of(&self, code: &str) -> Option<&Category> {
        self.leaf(code).and_then(|leaf| self.by_code.get(leaf.parent.as_deref()?))
    }

    /// The name of a category's family.
    pub fn family_name(&self, category: &Category) -> Option<&str> {
        category.parent.as_ref().and_then(|p| self.by_code.get(p)).map(|f| f.name_zh.as_str())
    }

    pub fn version(&self) -> i64 {
        self.version
    }
}

/// The book in force in `store`; a store without one gets the shipped book as version 1.
pub async fn current_book(store: &dyn Store, now: Timestamp) -> Result<CategoryBook, AppError> {
    let (version, text) = match store.latest_categories().await? {
        Some(latest) => latest,
        None => {
            let version = store.add_category_version(DEFAULT_CATEGORIES.to_owned(), "shipped".into(), now).await?;
            (version, DEFAULT_CATEGORIES.to_owned())
        }
    };
    Ok(CategoryBook::parse(&text, version)?)
}

/// Stores `text` as the next version of the book after checking all of it: a bad line, or a
/// category of the book in force left out (cases are filed under it), refuses the whole file.
pub async fn import_categories(store: &dyn Store, text: &str, source: &str, now: Timestamp) -> Result<i64, AppError> {
    let book = CategoryBook::parse(text, 0)?;
    let current = current_book(store, now).await?;
    if let Some(missing) = current.leaves().into_iter().find(|c| book.leaf(&c.code).is_none()) {
        return Err(AppError::CategoryDropped(missing.code.clone()));
    }
    Ok(store.add_category_version(text.to_owned(), source.to_owned(), now).await?)
}
