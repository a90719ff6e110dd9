//! `/v1/forward-auth`: the auth subrequest of nginx `auth_request`, Traefik ForwardAuth, Caddy
//! `forward_auth` and Envoy ext_authz (HTTP service). Reads the original request by exactly one
//! proxy convention, the identity from a trusted peer's header or a bearer JWT, maps both
//! through the route file and answers 200, 401, 402 or 403 with `X-Tollgate-Decision` on every
//! answer.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use cedar_policy::{EntityId, EntityUid};
use serde_json::{json, Value};

use crate::engine::{Ask, Decision, DecisionInput, Outcome};
use crate::error::{Code, Error};
use crate::forward::{normalize_host, Original, Target, Unmatched, Upstream};
use crate::http::error::{HttpError, HttpResult as Result};
use crate::http::openapi as doc;
use crate::http::wire::schema::{ErrorBody, ForwardRefusalBody, PaymentBody};
use crate::http::AppState;
use crate::model::Model;

/// The exact path; below it is Envoy's path prefix.
pub const PREFIX: &str = "/v1/forward-auth";

const DECISION: HeaderName = HeaderName::from_static("x-tollgate-decision");
const PAYMENT: HeaderName = HeaderName::from_static("x-tollgate-payment");
const TOKEN: &str = "x-tollgate-token";

/// Which proxy's headers carry the original request. Exactly one is read per request, so a
/// client cannot steer the route with headers of another convention that a proxy passes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Convention {
    /// `?proxy=nginx` on the exact path: `X-Original-Method`, `X-Original-URI`,
    /// `X-Original-Host`.
    Nginx,
    /// A path below the prefix: the request line and `Host`.
    Envoy,
    /// Otherwise: `X-Forwarded-Method`, `X-Forwarded-Uri`, `X-Forwarded-Host`.
    Forwarded,
}

fn header<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn convention(req: &HttpRequest) -> Convention {
    let path = req.path();
    if path.len() > PREFIX.len() {
        return Convention::Envoy;
    }
    let nginx = form_urlencoded::parse(req.query_string().as_bytes())
        .any(|(k, v)| k == "proxy" && v == "nginx");
    if nginx {
        Convention::Nginx
    } else {
        Convention::Forwarded
    }
}

/// The caller is a proxy allowed to ask: it presents the decision token in `X-Tollgate-Token`
/// (the client's own `Authorization` is the client's), or, with no decision token configured,
/// it is a loopback peer or a trusted proxy.
fn check_caller(req: &HttpRequest, state: &AppState) -> Result<()> {
    match &state.decision_token {
        Some(_) => match header(req, TOKEN) {
            Some(t) if state.may_decide(t) => Ok(()),
            Some(_) => Err(HttpError::Unauthorized(
                "the X-Tollgate-Token is not valid".into(),
            )),
            None => Err(HttpError::Unauthorized(
                "forward auth needs `X-Tollgate-Token: <decision token>`".into(),
            )),
        },
        None => {
            let trusted = req.peer_addr().is_some_and(|a| {
                crate::http::is_loopback(a.ip()) || state.forward.identity.trusted.contains(a.ip())
            });
            if trusted {
                Ok(())
            } else {
                Err(HttpError::Unauthorized(
                    "no decision token is configured, so forward auth is open to loopback and \
                     trusted proxies only"
                        .into(),
                ))
            }
        }
    }
}

/// The bearer token of the request's one `Authorization` header. None, or another scheme, is
/// no identity (`NO_IDENTITY`); a second header or an unreadable one is a bad token.
fn bearer(req: &HttpRequest) -> Result<&str> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let no_token = || {
        HttpError::from(Error::new(
            Code::NoIdentity,
            "no identity: the request carries no `Authorization: Bearer` token",
        ))
    };
    let bad = |m: &str| HttpError::from(Error::new(Code::InvalidToken, m));
    let value = match (values.next(), values.next()) {
        (None, _) => return Err(no_token()),
        (Some(_), Some(_)) => {
            return Err(bad(
                "`Authorization` is sent more than once; one token per request",
            ))
        }
        (Some(v), None) => v
            .to_str()
            .map_err(|_| bad("the `Authorization` header is not visible ASCII"))?,
    };
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(no_token());
    }
    match token.trim() {
        "" => Err(bad("the bearer token is empty")),
        t => Ok(t),
    }
}

/// The principal's id: with JWT keys configured, the verified claim of the bearer token (the
/// token is the proof, whatever the peer); otherwise the identity header, believed only from
/// a trusted peer, exactly once.
fn identity(req: &HttpRequest, state: &AppState) -> Result<String> {
    if let Some(jwt) = &state.forward.identity.jwt {
        return Ok(jwt.verify(bearer(req)?)?);
    }
    let name = state.forward.identity.header.as_str();
    let mut values = req.headers().get_all(name);
    let (Some(first), None) = (values.next(), values.next()) else {
        let e = if req.headers().contains_key(name) {
            Error::new(
                Code::NoIdentity,
                format!("`{name}` is sent more than once; one identity per request"),
            )
        } else {
            Error::new(
                Code::NoIdentity,
                format!("no identity: the request carries no `{name}`"),
            )
        };
        return Err(e.into());
    };
    let trusted = req
        .peer_addr()
        .is_some_and(|a| state.forward.identity.trusted.contains(a.ip()));
    if !trusted {
        return Err(Error::new(
            Code::UntrustedProxy,
            format!("`{name}` is believed only from a trusted proxy (--trusted-proxies)"),
        )
        .into());
    }
    match first.to_str() {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_string()),
        _ => Err(Error::new(
            Code::NoIdentity,
            format!("no identity: `{name}` is empty or not visible ASCII"),
        )
        .into()),
    }
}

/// The original method and URI (and host) by the request's one convention.
fn original_parts(req: &HttpRequest, c: Convention) -> Result<(String, String, Option<String>)> {
    let need = |name: &str| {
        header(req, name).map(str::to_string).ok_or_else(|| {
            HttpError::from(Error::new(
                Code::MissingOriginal,
                format!("the proxy sent no `{name}`"),
            ))
        })
    };
    Ok(match c {
        Convention::Nginx => {
            // `?proxy=nginx` is the caller's query: a proxy that passes the client's query on
            // (Caddy's forward_auth does) would let a client pick this convention and write
            // X-Original-* itself. Traefik and Caddy always send X-Forwarded-Uri; nginx never
            // does unless the client did: with both, the request is refused.
            if req.headers().contains_key("x-forwarded-uri")
                || req.headers().contains_key("x-forwarded-method")
            {
                return Err(Error::new(
                    Code::MissingOriginal,
                    "`?proxy=nginx` with X-Forwarded-Uri or X-Forwarded-Method: one \
                     convention per request",
                )
                .into());
            }
            (
                need("x-original-method")?,
                need("x-original-uri")?,
                header(req, "x-original-host").map(str::to_string),
            )
        }
        Convention::Forwarded => (
            need("x-forwarded-method")?,
            need("x-forwarded-uri")?,
            header(req, "x-forwarded-host").map(str::to_string),
        ),
        Convention::Envoy => {
            let path = req.uri().path().get(PREFIX.len()..).unwrap_or("/");
            let uri = match req.uri().query() {
                Some(q) => format!("{path}?{q}"),
                None => path.to_string(),
            };
            (
                req.method().as_str().to_string(),
                uri,
                header(req, "host").map(str::to_string),
            )
        }
    })
}

fn decide(req: &HttpRequest, state: &AppState, c: Convention) -> Result<(Decision, String)> {
    check_caller(req, state)?;
    let (method, uri, host) = original_parts(req, c)?;
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(
            Error::new(Code::MissingOriginal, "the original method is not a method").into(),
        );
    }
    let method = method.to_ascii_uppercase();
    let host = host.map(|h| normalize_host(&h)).transpose()?;
    let principal_id = identity(req, state)?;
    let routes_of = |model: &Model| {
        model.routes.clone().ok_or_else(|| {
            Error::new(
                Code::RoutesNotConfigured,
                "forward auth needs a route file (--routes / TOLLGATE_ROUTES)",
            )
        })
    };
    // Under one route table, the method, URI, host, identity and the headers the routes read
    // determine the request: a recurring one is answered from the decision cache before its
    // path is parsed or a route matched (a URI that failed its checks never got cached).
    let key = |model: &Model| -> crate::error::Result<Vec<u8>> {
        let routes = routes_of(model)?;
        let mut k = Vec::with_capacity(method.len() + uri.len() + principal_id.len() + 64);
        for part in [method.as_str(), uri.as_str(), principal_id.as_str()] {
            k.extend_from_slice(part.as_bytes());
            k.push(0);
        }
        match &host {
            Some(h) => {
                k.push(1);
                k.extend_from_slice(h.as_bytes());
            }
            None => k.push(2),
        }
        // Every value of every header a route reads (a header given twice is refused by
        // the route, and must not share the key of the same header given once).
        for name in &routes.headers {
            k.push(0);
            for v in req.headers().get_all(name.as_str()) {
                k.push(1);
                k.extend_from_slice(v.as_bytes());
            }
        }
        Ok(k)
    };
    let build = |model: &Model| -> crate::error::Result<DecisionInput> {
        let routes = routes_of(model)?;
        let target = Target::parse(&uri)?;
        let lookup = |name: &str| -> Vec<String> {
            req.headers()
                .get_all(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect()
        };
        let original = Original {
            method: &method,
            target: &target,
            host: host.as_deref(),
            header: &lookup,
        };
        let Some(mapped) = routes.resolve(&original)? else {
            let code = match routes.unmatched {
                Unmatched::Forbidden => Code::NoRoute,
                Unmatched::NotFound => Code::NotFound,
            };
            return Err(Error::new(
                code,
                format!(
                    "no route of the route file matches {method} {}",
                    target.path
                ),
            ));
        };
        let empty = mapped
            .context
            .as_object()
            .is_some_and(serde_json::Map::is_empty);
        Ok(DecisionInput {
            principal: EntityUid::from_type_name_and_id(
                routes.principal_type.clone(),
                EntityId::new(&principal_id),
            ),
            action: mapped.action,
            resource: mapped.resource,
            context: (!empty).then_some(mapped.context),
            entities: mapped.entities,
            reserve: None,
        })
    };
    let decision = state.engine.decide(Ask::Keyed {
        key: &key,
        build: &build,
    })?;
    Ok((decision, principal_id))
}

/// A header value for any id, one-to-one: controls, space, `%` and non-ASCII are
/// percent-encoded (UTF-8), so no two ids reach the app as the same header, whatever its HTTP
/// parser trims.
fn header_value(s: &str) -> HeaderValue {
    const ENCODED: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b' ').add(b'%');
    let enc = percent_encoding::utf8_percent_encode(s, ENCODED).to_string();
    HeaderValue::from_str(&enc).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// JSON with every non-ASCII character escaped, so it fits in a header value.
fn ascii_json(v: &Value) -> String {
    let mut out = String::new();
    for c in v.to_string().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

fn answer(state: &AppState, c: Convention, d: &Decision, principal: &str) -> HttpResponse {
    match d.outcome {
        Outcome::Allow => {
            let mut res = HttpResponse::Ok();
            res.insert_header((DECISION, "allow"));
            let org = d.org.as_deref();
            // Every configured header is sent, empty when unknown: Envoy forwards a
            // client-sent one that the answer lacks.
            for u in &state.forward.upstream {
                let v = match u {
                    Upstream::Principal => Some(principal),
                    Upstream::Org => org.map(|o| o.id.as_str()),
                    Upstream::Role => org.and_then(|o| o.role.as_deref()),
                    Upstream::Plan => org.map(|o| o.plan.as_str()),
                };
                res.insert_header((
                    HeaderName::from_static(u.header()),
                    header_value(v.unwrap_or("")),
                ));
            }
            res.json(json!({"decision": "allow", "reasons": d.reasons}))
        }
        Outcome::Deny => HttpResponse::Forbidden()
            .insert_header((DECISION, "deny"))
            .json(json!({
                "code": Code::AccessDenied.name(),
                "message": "the policies deny this request",
                "details": {"reasons": d.reasons, "errors": d.errors},
            })),
        Outcome::PaymentRequired => {
            let body = d
                .payment
                .as_ref()
                .and_then(|p| serde_json::to_value(p).ok())
                .unwrap_or_else(|| json!({"error": "payment_required"}));
            // nginx's auth_request takes only 2xx, 401 and 403 and never sees the body: it
            // gets a 403 that says `payment_required`, and the body in a header its config
            // answers with. The other proxies pass the 402 and its body on as they are.
            if c != Convention::Nginx {
                return HttpResponse::PaymentRequired()
                    .insert_header((DECISION, "payment_required"))
                    .json(body);
            }
            HttpResponse::Forbidden()
                .insert_header((DECISION, "payment_required"))
                .insert_header((
                    PAYMENT,
                    HeaderValue::from_str(&ascii_json(&body))
                        .unwrap_or_else(|_| HeaderValue::from_static("{}")),
                ))
                .json(body)
        }
    }
}

/// Asks whether the original request a proxy reports may go on.
#[utoipa::path(
    method(get, head, post, put, delete, patch, options),
    path = "/v1/forward-auth",
    tag = "Forward auth",
    operation_id = "forwardAuth",
    summary = "Decide a proxy's auth subrequest",
    description = "The original request is read by one convention: `?proxy=nginx` → \
                   `X-Original-Method` + `X-Original-URI` (+ `X-Original-Host`); otherwise \
                   `X-Forwarded-Method` + `X-Forwarded-Uri` (+ `X-Forwarded-Host`). The identity \
                   header (`--identity-header`, default `X-User-Id`) is believed only from a \
                   peer in `--trusted-proxies`; with JWT keys configured (`TOLLGATE_JWT_SECRET`, \
                   `--jwt-public-key`, `--jwt-jwks`) the identity is instead the verified claim \
                   (`--jwt-claim`, default `sub`) of the client's `Authorization: Bearer` JWT, \
                   from any peer, and a refused token is a 401 `INVALID_TOKEN`. The route file \
                   maps the original method and path to a Cedar request; the first matching route \
                   wins, an unmatched request is a 403 `NO_ROUTE` (or 404). Every answer carries \
                   `X-Tollgate-Decision`; an allow carries the configured `X-Tollgate-*` upstream \
                   headers.",
    security(("forwardToken" = []), ()),
    params(
        ("proxy" = Option<String>, Query,
         description = "`nginx`: read `X-Original-*`, and answer a 402 as a 403 with \
                        `X-Tollgate-Decision: payment_required`."),
    ),
    responses(
        (status = 200, description = "Allowed.", body = Object),
        (status = 400, description = "MISSING_ORIGINAL, MALFORMED_URI, INVALID_ROUTE_VALUE.",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED, NO_IDENTITY, UNTRUSTED_PROXY, \
                                      INVALID_TOKEN; with `WWW-Authenticate`.", body = ErrorBody),
        (status = 402, description = "The plan does not pay for it.", body = PaymentBody),
        (status = 403, description = "ACCESS_DENIED or NO_ROUTE; with `?proxy=nginx`, also a \
                                      payment_required (the body is then the payment object).",
         body = ForwardRefusalBody),
        (status = 404, description = "NOT_FOUND: no route matches (`unmatched = 404`).",
         body = ErrorBody),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 422, description = "The route maps to a request the schema refuses.",
         body = ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, description = "ROUTES_NOT_CONFIGURED, or the store or policies are \
                                      unavailable.", body = ErrorBody),
    )
)]
pub(in crate::http) async fn forward_auth(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    let c = convention(&req);
    match decide(&req, &state, c) {
        Ok((d, principal)) => answer(&state, c, &d, &principal),
        Err(e) => {
            let mut res = actix_web::ResponseError::error_response(&e);
            res.headers_mut()
                .insert(DECISION, HeaderValue::from_static("deny"));
            if res.status() == StatusCode::UNAUTHORIZED {
                // RFC 6750 §3: `error="invalid_token"` when a token was given and refused.
                let challenge = if e.code() == Code::InvalidToken {
                    "Bearer realm=\"tollgate\", error=\"invalid_token\""
                } else {
                    "Bearer realm=\"tollgate\""
                };
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
            }
            res
        }
    }
}

/// Envoy's path prefix: the original path is below `/v1/forward-auth/`.
#[utoipa::path(
    method(get, head, post, put, delete, patch, options),
    path = "/v1/forward-auth/{tail}",
    tag = "Forward auth",
    operation_id = "forwardAuthEnvoy",
    summary = "Decide an Envoy ext_authz request",
    description = "Envoy's ext_authz HTTP service with `path_prefix: /v1/forward-auth`: the \
                   original method is this request's, the original path is what follows the \
                   prefix, the query string and `Host` are the original request's. Answers as \
                   `/v1/forward-auth` does; Envoy lets only a 200 through.",
    security(("forwardToken" = []), ()),
    params(("tail" = String, Path, description = "The original path, below the prefix.")),
    responses(
        (status = 200, description = "Allowed.", body = Object),
        (status = 400, description = "MISSING_ORIGINAL, MALFORMED_URI, INVALID_ROUTE_VALUE.",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED, NO_IDENTITY, UNTRUSTED_PROXY, \
                                      INVALID_TOKEN; with `WWW-Authenticate`.", body = ErrorBody),
        (status = 402, description = "The plan does not pay for it.", body = PaymentBody),
        (status = 403, description = "ACCESS_DENIED or NO_ROUTE.", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no route matches (`unmatched = 404`).",
         body = ErrorBody),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 422, description = "The route maps to a request the schema refuses.",
         body = ErrorBody),
        (status = 500, response = doc::Internal),
        (status = 503, description = "ROUTES_NOT_CONFIGURED, or the store or policies are \
                                      unavailable.", body = ErrorBody),
    )
)]
pub(in crate::http) async fn forward_auth_envoy(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    forward_auth(req, state).await
}

#[cfg(test)]
mod tests {
    use super::header_value;

    #[test]
    fn upstream_values_are_encoded_one_to_one() {
        for (id, wire) in [
            ("alice", "alice"),
            ("a b", "a%20b"),
            ("alice%0A", "alice%250A"),
            ("alice\n", "alice%0A"),
            ("alicé", "alic%C3%A9"),
            ("u::\"x\"", "u::\"x\""),
        ] {
            assert_eq!(header_value(id).to_str().unwrap(), wire, "{id:?}");
        }
    }
}
