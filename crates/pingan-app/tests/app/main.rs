//! The application layer's integration tests, in one binary: the case engine, accounts, imports,
//! the atlas, the audit and the simulation, over real SQLite files.

mod accounts;
mod administration;
mod atlas;
mod audit;
mod engine;
mod imports;
mod simulate;
