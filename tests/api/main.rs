//! Black-box tests: each starts the real `tollgate` binary on port 0 with a temp SQLite file and
//! talks HTTP to it. One test binary, so the suite links once.

mod helpers;

mod data_api;
mod default_model;
mod fail_closed;
mod generic;
mod seats;
