//! The `pingan` binary as a user runs it, and the architecture's rules read from the sources.

mod architecture;
mod commands;
