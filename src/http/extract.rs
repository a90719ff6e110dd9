//! Extractors, so a handler states in its signature who may call it and what it reads:
//! [`Admin`] (the admin token), [`DecisionCaller`] (the decision token, or loopback without
//! one), [`Json`] and [`OptionalJson`] (a typed data body read under the data body limit).
//! Extracted in argument order, so the credential is checked before any body is read.

use std::future::{ready, Future, Ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};

use super::body::{parse_json, read_bytes, typed, DataBody};
use super::error::{HttpError, HttpResult as Result};
use super::AppState;
use crate::error::Error;

/// The caller presented the admin token.
pub struct Admin;

/// The caller may ask for decisions.
pub struct DecisionCaller;

/// A typed JSON data body (415 for another type, 413 past the limit, 400 for bad JSON, 422
/// for a bad shape).
pub struct Json<T>(pub T);

/// Like [`Json`], but an empty body is `None`.
pub struct OptionalJson<T>(pub Option<T>);

fn state(req: &HttpRequest) -> Result<&web::Data<AppState>> {
    req.app_data::<web::Data<AppState>>()
        .ok_or_else(|| Error::Internal("the application state is not registered".into()).into())
}

impl FromRequest for Admin {
    type Error = HttpError;
    type Future = Ready<Result<Self>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            state(req)
                .and_then(|s| s.require_admin(req))
                .map(|()| Admin),
        )
    }
}

impl FromRequest for DecisionCaller {
    type Error = HttpError;
    type Future = Ready<Result<Self>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            state(req)
                .and_then(|s| s.require_decision(req))
                .map(|()| DecisionCaller),
        )
    }
}

type Reading<T> = Pin<Box<dyn Future<Output = Result<T>>>>;

/// Reads a data body: `None` when it is empty.
async fn data_body<T: DataBody>(req: HttpRequest, payload: Payload) -> Result<Option<T>> {
    let limit = state(&req)?.max_data_body;
    let body = read_bytes(&req, payload, limit).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    Ok(Some(typed(parse_json(&req, &body)?)?))
}

impl<T: DataBody + 'static> FromRequest for Json<T> {
    type Error = HttpError;
    type Future = Reading<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move {
            let limit = state(&req)?.max_data_body;
            let body = read_bytes(&req, payload, limit).await?;
            Ok(Json(typed(parse_json(&req, &body)?)?))
        })
    }
}

impl<T: DataBody + 'static> FromRequest for OptionalJson<T> {
    type Error = HttpError;
    type Future = Reading<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move { data_body(req, payload).await.map(OptionalJson) })
    }
}
