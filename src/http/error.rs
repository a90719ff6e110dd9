//! The one place where an [`Error`] becomes an HTTP status and a `{code, message}` body.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::error::Error;

fn sqlite_unavailable(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(
        e.sqlite_error_code(),
        Some(
            DatabaseBusy
                | DatabaseLocked
                | SystemIoFailure
                | DatabaseCorrupt
                | DiskFull
                | CannotOpen
                | ReadOnly
                | NotADatabase
                | FileLockingProtocolFailed
                | OutOfMemory
        )
    )
}

impl Error {
    /// Status and stable code for this error.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Error::Malformed { code, .. } => (StatusCode::BAD_REQUEST, code),
            Error::Invalid { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            Error::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            Error::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            Error::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
            Error::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE")
            }
            Error::PaymentRequired(_) => (StatusCode::PAYMENT_REQUIRED, "PLAN_LIMIT_REACHED"),
            Error::StoreUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "STORE_UNAVAILABLE"),
            // The store cannot serve (I/O, full disk, read-only, busy, corrupt): 503. Anything
            // else SQLite reports (a constraint, a misuse) is a bug: 500.
            Error::Sqlite(e) if sqlite_unavailable(e) => {
                (StatusCode::SERVICE_UNAVAILABLE, "STORE_UNAVAILABLE")
            }
            Error::Sqlite(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
            Error::PoliciesUnavailable(_) | Error::PolicyLoad(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "POLICIES_UNAVAILABLE")
            }
            Error::Config(_) | Error::Io { .. } | Error::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL")
            }
        }
    }

    /// The JSON body: `{code, message}`, or the payment object for a 402.
    pub fn body(&self) -> serde_json::Value {
        let (status, code) = self.status_and_code();
        match self {
            Error::PaymentRequired(p) => serde_json::to_value(p)
                .unwrap_or_else(|_| json!({"code": code, "message": "payment required"})),
            _ if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE => {
                // The cause goes to the log, not to the client.
                json!({"code": code, "message": "internal error; see the server log"})
            }
            _ => json!({"code": code, "message": self.to_string()}),
        }
    }
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, "application/json"))
            .body(self.body().to_string())
    }
}
