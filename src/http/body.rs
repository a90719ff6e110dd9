//! Request bodies: read up to a byte limit (413 past it), `application/json` required (415),
//! parsed strictly (a key twice: 400), and typed bodies deserialized with their own codes.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use serde_json::Value;

use super::error::{HttpError, HttpResult as Result};
use crate::error::{Code, Error};

/// Reads the raw body up to `limit` bytes (413 past it).
pub(crate) async fn read_bytes<S, E>(
    req: &HttpRequest,
    mut payload: S,
    limit: usize,
) -> Result<web::BytesMut>
where
    S: futures_util::Stream<Item = std::result::Result<web::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(HttpError::PayloadTooLarge { limit });
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| Error::new(Code::BodyReadFailed, format!("cannot read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(HttpError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub(crate) fn parse_json(req: &HttpRequest, body: &[u8]) -> Result<serde_json::Value> {
    require_json(req)?;
    Ok(crate::strict_json::parse(body)?)
}

/// 415 unless the request says `application/json`.
pub(crate) fn require_json(req: &HttpRequest) -> Result<()> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(HttpError::UnsupportedMediaType);
    }
    Ok(())
}

/// Reads a JSON body up to `limit` bytes: 415 for another content type, 413 past the limit.
pub async fn read_json(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<serde_json::Value> {
    let body = read_bytes(req, payload, limit).await?;
    parse_json(req, &body)
}

/// A typed data body: a JSON object of named fields (serde's derive would also take an array
/// of the fields in order, which no filter keyed on field names could read), some of which
/// are objects of named fields themselves.
pub(crate) trait DataBody: serde::de::DeserializeOwned {
    /// The fields of an object-valued field, checked for unknown names like the top level.
    fn nested(_field: &str) -> Option<&'static [&'static str]> {
        None
    }
}

/// Deserializes a typed body. Anything but an object is a 422 `INVALID_BODY`. A field the type
/// does not declare, at the top or in a nested object, is a 422 `UNKNOWN_FIELD` (the code the
/// decision API gives one, so a client handles both alike), checked against the type's own
/// field list before serde runs; a wrong value is a 422 `INVALID_BODY`. A field set to `null`
/// is a 422 `NULL_FIELD`: leaving a field out keeps the stored value, and a `null` that
/// silently meant the same would hide a client's bug (`"plan": null`).
pub(crate) fn typed<T: DataBody>(v: Value) -> crate::error::Result<T> {
    let Value::Object(m) = &v else {
        return Err(Error::new(
            Code::InvalidBody,
            "the body must be a JSON object",
        ));
    };
    if let Some((k, _)) = m.iter().find(|(_, v)| v.is_null()) {
        return Err(Error::new(
            Code::NullField,
            format!("`{k}` must not be null; leave it out to keep what is stored"),
        ));
    }
    known_fields(
        m,
        serde_aux::serde_introspection::serde_introspect::<T>(),
        "",
    )?;
    for (k, inner) in m {
        if let (Some(fields), Value::Object(o)) = (T::nested(k), inner) {
            known_fields(o, fields, &format!("`{k}`: "))?;
        }
    }
    serde_json::from_value(v).map_err(|e| Error::new(Code::InvalidBody, e.to_string()))
}

fn known_fields(
    m: &serde_json::Map<String, Value>,
    fields: &[&str],
    at: &str,
) -> crate::error::Result<()> {
    match m.keys().find(|k| !fields.contains(&k.as_str())) {
        Some(k) => Err(Error::new(
            Code::UnknownField,
            format!(
                "{at}unknown field `{k}`, expected one of {}",
                fields.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "only deserialized")]
    struct Body {
        role: String,
        #[serde(default)]
        override_limits: bool,
        #[serde(default)]
        flags: Flags,
    }

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "only deserialized")]
    struct Flags {
        #[serde(default)]
        on: bool,
    }

    impl DataBody for Body {
        fn nested(field: &str) -> Option<&'static [&'static str]> {
            (field == "flags").then(serde_aux::serde_introspection::serde_introspect::<Flags>)
        }
    }

    fn code(v: Value) -> &'static str {
        match typed::<Body>(v) {
            Ok(_) => "ok",
            Err(e) => e.code().name(),
        }
    }

    #[test]
    fn typed_bodies_name_their_own_fields() {
        use serde_json::json;
        assert_eq!(code(json!({"role": "admin"})), "ok");
        assert_eq!(code(json!({"role": "admin", "rol": 1})), "UNKNOWN_FIELD");
        assert_eq!(code(json!({"role": null})), "NULL_FIELD");
        assert_eq!(code(json!({"role": 5})), "INVALID_BODY");
        assert_eq!(code(json!({})), "INVALID_BODY");
        assert_eq!(
            code(json!(["admin", true])),
            "INVALID_BODY",
            "the fields in order are not a body"
        );
        assert_eq!(code(json!({"role": "admin", "flags": {"on": true}})), "ok");
        assert_eq!(
            code(json!({"role": "admin", "flags": {"of": true}})),
            "UNKNOWN_FIELD"
        );
    }
}
