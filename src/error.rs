//! The crate's one error type.
//!
//! Every failure the library can report is a variant here. The HTTP layer maps each variant to a
//! status and a stable machine-readable code in exactly one place (`http::error`), so a handler
//! never chooses a status by itself.

use crate::plans::Payment;

/// Every failure Tollgate reports, from the store, the engine, configuration or a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request body is not valid JSON or not of the expected shape.
    #[error("{message}")]
    Malformed {
        /// Stable code, e.g. `MALFORMED_JSON`.
        code: &'static str,
        /// Human sentence.
        message: String,
    },
    /// Valid JSON that breaks a schema or a rule (unknown field, wrong type, unknown action).
    #[error("{message}")]
    Invalid {
        /// Stable code, e.g. `INVALID_CONTEXT`.
        code: &'static str,
        /// Human sentence.
        message: String,
    },
    /// No credential, or a credential that does not match.
    #[error("{0}")]
    Unauthorized(String),
    /// The thing named in the path does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The write conflicts with what the store holds.
    #[error("{message}")]
    Conflict {
        /// Stable code, e.g. `WORKSPACE_NOT_EMPTY`; `CONFLICT` when nothing more specific.
        code: &'static str,
        /// Human sentence.
        message: String,
    },
    /// The body is larger than the configured limit.
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not `application/json`.
    #[error("content type must be `application/json`")]
    UnsupportedMediaType,
    /// A write would pass a plan limit; carries the 402 body.
    #[error("{}", .0.message)]
    PaymentRequired(Box<Payment>),
    /// The SQLite store cannot be used (file removed, read-only, I/O error).
    #[error("store unavailable: {0}")]
    StoreUnavailable(String),
    /// An SQLite call failed.
    #[error("store error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// No usable policy set is loaded.
    #[error("policies unavailable: {0}")]
    PoliciesUnavailable(String),
    /// Policies, schema or plan catalog failed to load or validate.
    #[error("{0}")]
    PolicyLoad(String),
    /// Configuration is invalid; raised at start-up.
    #[error("configuration error: {0}")]
    Config(String),
    /// Local I/O failed (reading a config file, writing the token file).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A bug: an invariant the code relies on did not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// A 422 with a stable code.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            code,
            message: message.into(),
        }
    }

    /// A 409 with a stable code.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict {
            code,
            message: message.into(),
        }
    }

    /// A 400 with a stable code.
    pub fn malformed(code: &'static str, message: impl Into<String>) -> Self {
        Error::Malformed {
            code,
            message: message.into(),
        }
    }

    /// Wraps an I/O error with what was being attempted.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
