//! Long operations report their progress through this trait; the CLI draws bars, tests stay quiet.

pub trait Progress: Send + Sync {
    /// A new stage of `total` steps (0 when unknown) begins.
    fn stage(&self, name: &str, total: u64);
    fn advance(&self, steps: u64);
    fn finish(&self);
}

pub struct Silent;

impl Progress for Silent {
    fn stage(&self, _name: &str, _total: u64) {}
    fn advance(&self, _steps: u64) {}
    fn finish(&self) {}
}
