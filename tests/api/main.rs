//! Black-box tests: each starts the real `tollgate` binary on port 0 with a temp SQLite file and
//! talks HTTP to it. One test binary, so the suite links once.

// Test code may unwrap and panic: a failed expectation is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test fails by panicking"
)]

mod helpers;

mod cache;
mod cli;
mod data_api;
mod default_model;
mod fail_closed;
mod forward_auth;
mod forward_auth_jwt;
mod freshness;
mod generic;
mod openapi;
mod proxies;
mod reload;
mod reservations;
mod seats;
mod stripe;
mod tenancy;
