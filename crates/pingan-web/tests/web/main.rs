//! The web layer's integration tests, in one binary: the server over real HTTP on loopback, on
//! both engines, each test on a server and database of its own (`pingan-test-support`).

mod access;
mod accessibility;
mod admin;
mod centre;
mod connections;
mod desk;
mod http;
mod idempotency;
mod indicators;
mod open311;
mod rankings;
mod scope;
mod session_expired;
mod webhooks;
mod workbench;
