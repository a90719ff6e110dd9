//! `/v1/entities`: generic Cedar entities, written under the org model's tenancy rules.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{write, EntityPath};
use crate::engine;
use crate::error::{Code, Error};
use crate::http::error::HttpResult as Result;
use crate::http::extract::Admin;
use crate::http::openapi as doc;
use crate::http::wire::schema::{Entity, ErrorBody};
use crate::http::{body::read_json, AppState};
use crate::model;

/// The answer of an entity write.
#[derive(Serialize, ToSchema)]
#[schema(as = EntitiesWritten)]
pub(in crate::http) struct EntitiesWritten {
    /// How many entities were written.
    written: usize,
}

/// Upserts Cedar entities, all or nothing.
#[utoipa::path(
    put,
    path = "/v1/entities",
    tag = "Data",
    operation_id = "putEntities",
    summary = "Upsert Cedar entities (all or nothing)",
    description = "Validated against the schema. Refused with 422, nothing written: an entity \
                   whose parents would close a cycle (PARENT_CYCLE); under the org model, one \
                   whose Org or Workspace parent does not exist (UNKNOWN_PARENT), whose parents \
                   belong to two orgs (CROSS_ORG_PARENTS), or of a type or attribute only the \
                   org API writes (MANAGED_ENTITY).",
    security(("adminToken" = [])),
    request_body(content = Vec<Entity>, content_type = "application/json"),
    responses(
        (status = 200, description = "Written.", body = EntitiesWritten),
        (status = 400, response = doc::BadBody),
        (status = 401, response = doc::Unauthorized),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 415, response = doc::UnsupportedMediaType),
        (status = 422, description = "INVALID_BODY (not an array), UNKNOWN_FIELD, \
                                      INVALID_ENTITY, DUPLICATE_ENTITY, MANAGED_ENTITY, \
                                      UNKNOWN_PARENT, CROSS_ORG_PARENTS, PARENT_CYCLE, \
                                      SLICE_TOO_LARGE; nothing written.", body = ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
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
    Ok(HttpResponse::Ok().json(EntitiesWritten { written: n }))
}

/// Reads a stored entity.
#[utoipa::path(
    get,
    path = "/v1/entities/{etype}/{eid}",
    tag = "Data",
    operation_id = "getEntity",
    summary = "Read a stored entity",
    security(("adminToken" = [])),
    params(EntityPath),
    responses(
        (status = 200, description = "Cedar entity JSON, as stored.", body = Entity),
        (status = 400, response = doc::BadPath),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 422, description = "INVALID_ENTITY_TYPE: `etype` is not an entity type name.",
         body = ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(in crate::http) async fn get_entity(
    _: Admin,
    path: web::Path<EntityPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let EntityPath { etype: t, eid: id } = path.into_inner();
    let uid = model::uid(&t, &id)?;
    let json = state.engine.store().read(|r| r.entity_json(&t, &id))?;
    match json {
        Some(j) => Ok(HttpResponse::Ok().content_type("application/json").body(j)),
        None => Err(Error::not_found(format!("no entity `{uid}`")).into()),
    }
}

/// Deletes a stored entity.
#[utoipa::path(
    delete,
    path = "/v1/entities/{etype}/{eid}",
    tag = "Data",
    operation_id = "deleteEntity",
    summary = "Delete a stored entity",
    security(("adminToken" = [])),
    params(EntityPath),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, response = doc::BadPath),
        (status = 401, response = doc::Unauthorized),
        (status = 404, response = doc::NotFound),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 422, description = "INVALID_ENTITY_TYPE: `etype` is not an entity type name.",
         body = ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, response = doc::Unavailable),
    )
)]
pub(in crate::http) async fn delete_entity(
    _: Admin,
    path: web::Path<EntityPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let EntityPath { etype: t, eid: id } = path.into_inner();
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
