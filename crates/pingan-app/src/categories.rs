//! The category book the engine consults: the shipped default taxonomy and department kinds.

use std::collections::HashMap;

use pingan_core::category::{Category, CategoryError, parse_categories, parse_department_kinds};

const DEFAULT_CATEGORIES: &str = include_str!("../../../data/categories/default.csv");
pub(crate) const DEPARTMENT_KINDS: &str = include_str!("../../../data/categories/departments.csv");

pub struct CategoryBook {
    by_code: HashMap<String, Category>,
    /// The version every category of this book carries; a case keeps the version it was filed under.
    version: i64,
}

impl CategoryBook {
    pub fn shipped() -> Result<CategoryBook, CategoryError> {
        let categories = parse_categories(DEFAULT_CATEGORIES, &parse_department_kinds(DEPARTMENT_KINDS))?;
        Ok(CategoryBook { by_code: categories.into_iter().map(|c| (c.code.clone(), c)).collect(), version: 1 })
    }

    /// A category cases can be filed under (not a family).
    pub fn leaf(&self, code: &str) -> Option<&Category> {
        self.by_code.get(code).filter(|c| c.parent.is_some())
    }

    /// Every category cases can be filed under, ordered by code.
    pub fn leaves(&self) -> Vec<&Category> {
        let mut leaves: Vec<&Category> = self.by_code.values().filter(|c| c.parent.is_some()).collect();
        leaves.sort_by(|a, b| a.code.cmp(&b.code));
        leaves
    }

    pub fn version(&self) -> i64 {
        self.version
    }
}
