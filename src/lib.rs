//! Tollgate: a policy decision point that answers allow, deny (403) or payment required (402)
//! from Cedar policies over a SQLite entity store.
//!
//! Layers, outermost first: [`cli`] and [`http`] (the only code that knows clap or actix),
//! [`engine`] (Cedar: model, slices, decisions), [`billing`] (plan catalog and 402 wording),
//! [`store`] (SQLite), with [`config`] and [`error`] shared. See `ARCHITECTURE.md`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod engine;
pub mod error;
pub mod http;
pub mod model;
pub mod org;
pub mod plans;
pub mod startup;
pub mod store;
pub mod strict_json;
pub mod watch;

pub use error::{Error, Result};
