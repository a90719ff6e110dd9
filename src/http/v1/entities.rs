//! `/v1/entities`: generic Cedar entities, written under the org model's tenancy rules.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::write;
use crate::engine;
use crate::error::{Code, Error};
use crate::http::error::HttpResult as Result;
use crate::http::extract::Admin;
use crate::http::{body::read_json, AppState};
use crate::model;

pub(in crate::http) async fn put_entities(
    _: Admin,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let v = read_json(&req, body, state.max_data_body).await?;
    let Value::Array(items) = v else {
        return Err(Error::new(
            Code::InvalidBody,
            "the body must be an array of Cedar entities",
        )
        .into());
    };
    let model = state.engine.model();
    let entities = engine::input::parse_entities(&model, &items)?;
    let n = entities.len();
    write(&state, move |w, ctx| {
        crate::org::put_entities(w, &model, &entities, ctx.now)
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({"written": n})))
}

pub(in crate::http) async fn get_entity(
    _: Admin,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let (t, id) = path.into_inner();
    let uid = model::uid(&t, &id)?;
    let json = state.engine.store().read(|r| r.entity_json(&t, &id))?;
    match json {
        Some(j) => Ok(HttpResponse::Ok().content_type("application/json").body(j)),
        None => Err(Error::not_found(format!("no entity `{uid}`")).into()),
    }
}

pub(in crate::http) async fn delete_entity(
    _: Admin,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let (t, id) = path.into_inner();
    model::uid(&t, &id)?;
    let found = write(&state, move |w, ctx| {
        crate::org::delete_entity(w, &t, &id, ctx.now)
    })
    .await?;
    if found {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(Error::not_found("no such entity").into())
    }
}
