//! What every domain's use cases work with: the store, the clock, the catalog (the category book
//! and the dispatch rules, each swapped whole when a new version is stored), the official working
//! calendar and the vault that seals personal data. Domains take a context, never one another's
//! engines, so each is a peer of the rest.

use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use pingan_core::Timestamp;
use pingan_core::calendar::{OfficeHours, OfficialCalendar, WorkClock};
use pingan_core::category::Category;
use pingan_store::Store;

use crate::AppError;
use crate::categories::CategoryBook;
use crate::clock::Clock;
use crate::personal::Vault;
use crate::units::DispatchBook;

/// The State Council's holiday arrangements, compiled in.
pub const SHIPPED_CALENDAR: &str = include_str!("../../../data/calendar/cn-official-calendar.csv");

pub struct Context {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    work: WorkClock,
    /// Swapped whole when a new version is stored (see [`Context::refresh_catalog`]).
    book: ArcSwap<CategoryBook>,
    /// Read again with the category book.
    dispatch: ArcSwap<DispatchBook>,
    /// Seals personal data and kept answers; without it, what needs sealing is refused.
    vault: Option<Arc<Vault>>,
}

impl Context {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, book: CategoryBook, work: WorkClock) -> Context {
        Context { store, clock, work, book: ArcSwap::from_pointee(book), dispatch: ArcSwap::default(), vault: None }
    }

    /// A context with the shipped categories, the shipped official calendar and default office
    /// hours, until [`Context::refresh_catalog`] reads the store's.
    pub fn standard(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Result<Context, AppError> {
        let calendar = OfficialCalendar::parse(SHIPPED_CALENDAR).map_err(|e| AppError::BadFile {
            file: "data/calendar/cn-official-calendar.csv".into(),
            reason: e.to_string(),
        })?;
        let work = WorkClock::new(calendar, OfficeHours::default());
        Ok(Context::new(store, clock, CategoryBook::shipped()?, work))
    }

    /// The context, sealing personal data with `vault`.
    pub fn with_vault(self, vault: Arc<Vault>) -> Context {
        Context { vault: Some(vault), ..self }
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The store, for a task that outlives the caller.
    pub fn shared_store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The name of the storage engine (for the health check).
    pub fn store_engine(&self) -> &'static str {
        self.store.engine()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Now, as stored.
    pub fn timestamp(&self) -> Timestamp {
        Timestamp::of(self.clock.now())
    }

    pub fn work_clock(&self) -> &WorkClock {
        &self.work
    }

    /// The key that seals personal data and kept answers.
    pub fn vault(&self) -> Result<&Vault, AppError> {
        self.vault.as_deref().ok_or(AppError::NoDataKey)
    }

    /// The category book in force.
    pub fn categories(&self) -> Arc<CategoryBook> {
        self.book.load_full()
    }

    /// The category cases may be filed under as `code`.
    pub fn category(&self, code: &str) -> Result<Category, AppError> {
        self.categories().leaf(code).cloned().ok_or_else(|| AppError::UnknownCategory(code.to_owned()))
    }

    /// The dispatch rules and departments in force.
    pub fn dispatch_book(&self) -> Arc<DispatchBook> {
        self.dispatch.load_full()
    }

    /// Reads the dispatch rules and departments again, and takes up the latest stored version of
    /// the category book (storing the shipped one if the store has none); says whether the
    /// category book's version changed. Servers call it every minute; until the first call, no
    /// rule or department is known and staff reports wait in the centres' queues.
    pub async fn refresh_catalog(&self) -> Result<bool, AppError> {
        let latest = crate::categories::current_book(self.store(), self.timestamp()).await?;
        let dispatch = DispatchBook::load(self.store(), &latest).await?;
        self.dispatch.store(Arc::new(dispatch));
        if latest.version() == self.categories().version() {
            return Ok(false);
        }
        self.book.store(Arc::new(latest));
        Ok(true)
    }
}
