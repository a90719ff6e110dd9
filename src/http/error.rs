//! The one place where a failure becomes an HTTP status and a `{code, message}` body: the web
//! layer's own failures (credentials, body size and type, method) beside the core's [`Error`],
//! and the single match from a code's [`Kind`] to its status.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::error::{Code, Error, Kind};

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// A failure of the core (bad input, a plan limit, the store, the model).
    #[error(transparent)]
    Core(#[from] Error),
    /// No credential, or a credential that does not match.
    #[error("{0}")]
    Unauthorized(String),
    /// The body is larger than the configured limit.
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not `application/json`.
    #[error("content type must be `application/json`")]
    UnsupportedMediaType,
}

/// A handler's result.
pub type HttpResult<T> = std::result::Result<T, HttpError>;

/// The status every code of a kind answers with.
pub fn status_of(kind: Kind) -> StatusCode {
    match kind {
        Kind::Malformed => StatusCode::BAD_REQUEST,
        Kind::Unauthorized => StatusCode::UNAUTHORIZED,
        Kind::PaymentRequired => StatusCode::PAYMENT_REQUIRED,
        Kind::Forbidden => StatusCode::FORBIDDEN,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Kind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Kind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        Kind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl HttpError {
    /// The stable code of this failure.
    pub fn code(&self) -> Code {
        match self {
            HttpError::Core(e) => e.code(),
            HttpError::Unauthorized(_) => Code::Unauthorized,
            HttpError::PayloadTooLarge { .. } => Code::PayloadTooLarge,
            HttpError::UnsupportedMediaType => Code::UnsupportedMediaType,
        }
    }

    /// The JSON body: `{code, message}`, or the payment object for a 402.
    pub fn body(&self) -> serde_json::Value {
        let code = self.code();
        match self {
            HttpError::Core(Error::PaymentRequired(p)) => serde_json::to_value(p)
                .unwrap_or_else(|_| json!({"code": code.name(), "message": "payment required"})),
            // The cause goes to the log, not to the client.
            _ if code.kind() == Kind::Internal => {
                json!({"code": code.name(), "message": "internal error; see the server log"})
            }
            _ => json!({"code": code.name(), "message": self.to_string()}),
        }
    }
}

impl ResponseError for HttpError {
    fn status_code(&self) -> StatusCode {
        status_of(self.code().kind())
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
