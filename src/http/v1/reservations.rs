//! `POST /v1/reservations/{id}/release`: gives back the units a decision's `reserve` took.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::write;
use crate::http::error::HttpResult as Result;
use crate::http::extract::DecisionCaller;
use crate::http::openapi as doc;
use crate::http::wire::reservation_json;
use crate::http::wire::schema::{ErrorBody, ReleasedBody};
use crate::http::AppState;

/// The reservation named in the path.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(in crate::http) struct ReservationPath {
    /// The id a decision's `reservation` gave.
    id: String,
}

/// Gives a reservation's units back.
#[utoipa::path(
    post,
    path = "/v1/reservations/{id}/release",
    tag = "Decisions",
    operation_id = "releaseReservation",
    summary = "Give back the units a reserve took",
    description = "The reservation's amount leaves its org's counter (never below zero) in one \
                   transaction with its audit record. Idempotent: releasing a released \
                   reservation answers it again and changes nothing. The same credentials as \
                   decisions (the decision token; open on loopback when none is set). No body.",
    security(("decisionToken" = []), ("adminToken" = []), ()),
    params(ReservationPath),
    responses(
        (status = 200, description = "Released (now or before).", body = ReleasedBody),
        (status = 400, response = doc::BadPath),
        (status = 401, response = doc::Unauthorized),
        (status = 404, description = "NOT_FOUND: no reservation has this id.", body = ErrorBody),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(in crate::http) async fn release(
    _: DecisionCaller,
    path: web::Path<ReservationPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let id = path.into_inner().id;
    let row = write(&state, move |w, ctx| crate::org::release(w, ctx, &id)).await?;
    Ok(HttpResponse::Ok().json(reservation_json(&row)))
}
