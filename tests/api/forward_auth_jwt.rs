//! `/v1/forward-auth` with the identity from a bearer JWT, against the real daemon and the
//! example route file: HS256, RS256 and ES256 keys, JWKS files and a JWKS URL whose keys
//! rotate, and every kind of bad token refused with a 401 `INVALID_TOKEN`, never an allow.
//!
//! The keys under `tests/fixtures/jwt/` are test-only key pairs, committed so the tests can
//! sign tokens; they protect nothing and must never be configured anywhere else.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{encode, get_current_timestamp as now, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::helpers::{run_cli, Answer, TestApp};

const ROUTES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/examples/forward-auth/routes.toml"
);
const SECRET: &str = "test-only-jwt-secret-0123456789abcdef";
const ISSUER: &str = "https://idp.test";
const AUDIENCE: &str = "tollgate-demo";

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/jwt/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn pem(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap()
}

fn rsa(name: &str) -> EncodingKey {
    EncodingKey::from_rsa_pem(&pem(name)).unwrap()
}

fn secret() -> EncodingKey {
    EncodingKey::from_secret(SECRET.as_bytes())
}

/// Claims for `sub` from the test issuer to the test audience, valid for ten minutes, with
/// `extra` merged in (`null` removes a claim).
fn claims(sub: &str, extra: Value) -> Value {
    let mut c = json!({
        "sub": sub,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now(),
        "exp": now() + 600,
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn token(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut h = Header::new(alg);
    h.kid = kid.map(str::to_string);
    encode(&h, claims, key).unwrap()
}

/// The app with the example routes and `extra` flags; acme (free) has alice as owner, vic as
/// viewer; evil belongs to mallory.
fn app(extra: &[&str], envs: &[(&str, &str)]) -> TestApp {
    let mut args = vec!["--routes", ROUTES];
    args.extend_from_slice(extra);
    let app = TestApp::spawn_with(&args, envs);
    app.org("acme", "free", "alice");
    app.member("acme", "vic", "viewer");
    app.org("evil", "enterprise", "mallory");
    app
}

/// The HS256 app: the secret by environment, issuer and audience checked.
fn hs_app() -> TestApp {
    app(
        &["--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE],
        &[("TOLLGATE_JWT_SECRET", SECRET)],
    )
}

/// A Traefik-style subrequest for `GET uri` carrying the client's `Authorization`.
fn ask(app: &TestApp, bearer: Option<&str>, uri: &str, extra: &[(&str, &str)]) -> Answer {
    let auth = bearer.map(|t| format!("Bearer {t}"));
    let mut h = vec![("x-forwarded-method", "GET"), ("x-forwarded-uri", uri)];
    if let Some(a) = &auth {
        h.push(("authorization", a));
    }
    h.extend_from_slice(extra);
    app.call_headers("GET", "/v1/forward-auth", None, "text/plain", &h)
}

fn allowed_as(a: &Answer, who: &str) {
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.header("x-tollgate-decision"), Some("allow"));
    assert_eq!(
        a.header("x-tollgate-principal"),
        Some(who),
        "{:?}",
        a.headers
    );
}

/// A 401 `INVALID_TOKEN` whose message says `why`, with the RFC 6750 challenge, that does
/// not echo the token.
fn refused(a: &Answer, token: &str, why: &str) {
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (401, Some("INVALID_TOKEN")),
        "{why}: {}",
        a.raw
    );
    assert_eq!(a.header("x-tollgate-decision"), Some("deny"));
    assert_eq!(
        a.header("www-authenticate"),
        Some("Bearer realm=\"tollgate\", error=\"invalid_token\""),
        "{why}"
    );
    let m = a.body["message"].as_str().unwrap();
    assert!(m.contains(why), "wanted `{why}` in: {m}");
    assert!(!a.raw.contains(token), "the token is not echoed: {}", a.raw);
}

/// A hand-built token (no library would sign `alg: none`).
fn unsigned(header: &Value, claims: &Value, sig: &str) -> String {
    let e = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.{sig}", e(header), e(claims))
}

fn jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Value {
    let mut v = serde_json::to_value(Jwk::from_encoding_key(key, alg).unwrap()).unwrap();
    v["kid"] = json!(kid);
    v
}

fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

#[test]
fn an_hs256_token_names_the_principal_and_the_identity_header_is_no_longer_read() {
    let app = hs_app();
    let t = token(Algorithm::HS256, None, &secret(), &claims("vic", json!({})));
    let a = ask(&app, Some(&t), "/api/orgs/acme", &[]);
    allowed_as(&a, "vic");
    assert_eq!(a.header("x-tollgate-role"), Some("viewer"));
    // The policies still decide for the token's principal.
    let t = token(
        Algorithm::HS256,
        None,
        &secret(),
        &claims("mallory", json!({})),
    );
    let a = ask(&app, Some(&t), "/api/orgs/acme", &[]);
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (403, Some("ACCESS_DENIED"))
    );
    // The scheme is case-insensitive.
    let t = token(
        Algorithm::HS256,
        None,
        &secret(),
        &claims("alice", json!({})),
    );
    let a = app.call_headers(
        "GET",
        "/v1/forward-auth",
        None,
        "text/plain",
        &[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/api/orgs/acme"),
            ("authorization", &format!("bearer {t}")),
        ],
    );
    allowed_as(&a, "alice");

    // No token: NO_IDENTITY with a bare challenge, even with a trusted peer's header; a
    // token beside the header wins over it.
    for extra in [vec![], vec![("x-user-id", "alice")]] {
        let a = ask(&app, None, "/api/orgs/acme", &extra);
        assert_eq!(
            (a.status, a.body["code"].as_str()),
            (401, Some("NO_IDENTITY")),
            "{}",
            a.raw
        );
        assert_eq!(
            a.header("www-authenticate"),
            Some("Bearer realm=\"tollgate\"")
        );
    }
    let t = token(
        Algorithm::HS256,
        None,
        &secret(),
        &claims("mallory", json!({})),
    );
    let a = ask(&app, Some(&t), "/api/orgs/acme", &[("x-user-id", "alice")]);
    assert_eq!(a.status, 403, "the header is not read: {}", a.raw);
    // Another scheme is no token; two Authorization headers, or an empty one, a bad one.
    let a = app.call_headers(
        "GET",
        "/v1/forward-auth",
        None,
        "text/plain",
        &[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/api/orgs/acme"),
            ("authorization", "Basic YWxpY2U6cHc="),
        ],
    );
    assert_eq!(a.body["code"], "NO_IDENTITY", "{}", a.raw);
    let good = token(
        Algorithm::HS256,
        None,
        &secret(),
        &claims("alice", json!({})),
    );
    let bearer = format!("Bearer {good}");
    let a = app.call_headers(
        "GET",
        "/v1/forward-auth",
        None,
        "text/plain",
        &[
            ("x-forwarded-method", "GET"),
            ("x-forwarded-uri", "/api/orgs/acme"),
            ("authorization", &bearer),
            ("authorization", &bearer),
        ],
    );
    refused(&a, &good, "more than once");
    refused(
        &ask(&app, Some(""), "/api/orgs/acme", &[]),
        "<no token>",
        "empty",
    );
}

#[test]
fn expired_early_forged_unsigned_and_misaddressed_tokens_are_each_a_401_invalid_token() {
    let app = hs_app();
    let c = |extra: Value| claims("alice", extra);
    let hs = |c: &Value| token(Algorithm::HS256, None, &secret(), c);
    let other = EncodingKey::from_secret(b"another-secret-that-is-long-enough-0123");
    let cases: Vec<(String, &str)> = vec![
        (hs(&c(json!({"exp": now() - 3600}))), "expired"),
        (hs(&c(json!({"nbf": now() + 3600}))), "not valid yet"),
        (
            token(Algorithm::HS256, None, &other, &c(json!({}))),
            "bad signature",
        ),
        (
            unsigned(&json!({"alg": "none", "typ": "JWT"}), &c(json!({})), ""),
            "`alg: none`",
        ),
        (hs(&c(json!({"aud": "another-app"}))), "another audience"),
        (hs(&c(json!({"aud": null}))), "no `aud` claim"),
        (
            hs(&c(json!({"iss": "https://evil.test"}))),
            "another issuer",
        ),
        (hs(&c(json!({"iss": null}))), "no `iss` claim"),
        (hs(&c(json!({"exp": null}))), "no `exp` claim"),
        (hs(&c(json!({"sub": null}))), "missing claim"),
        ("not-a-jwt".to_string(), "not a JWT"),
    ];
    for (t, why) in &cases {
        refused(&ask(&app, Some(t), "/api/orgs/acme", &[]), t, why);
    }
    // The same claims, signed right, pass: each refusal above is the one thing it changed.
    allowed_as(
        &ask(&app, Some(&hs(&c(json!({})))), "/api/orgs/acme", &[]),
        "alice",
    );
}

#[test]
fn an_rsa_public_key_accepts_rs256_only_and_never_its_own_pem_as_an_hmac_secret() {
    // No trusted proxy at all: the token is the proof (the caller is still a loopback peer).
    let app = app(
        &[
            "--jwt-public-key",
            &fixture("rsa-a.pub.pem"),
            "--trusted-proxies",
            "none",
        ],
        &[],
    );
    let c = claims("alice", json!({}));
    allowed_as(
        &ask(
            &app,
            Some(&token(Algorithm::RS256, None, &rsa("rsa-a.key.pem"), &c)),
            "/api/orgs/acme",
            &[],
        ),
        "alice",
    );
    // The classic confusion: HS256 keyed with the public key's PEM text.
    let confused = token(
        Algorithm::HS256,
        None,
        &EncodingKey::from_secret(&pem("rsa-a.pub.pem")),
        &c,
    );
    refused(
        &ask(&app, Some(&confused), "/api/orgs/acme", &[]),
        &confused,
        "algorithm not allowed",
    );
    let wrong = token(Algorithm::RS256, None, &rsa("rsa-b.key.pem"), &c);
    refused(
        &ask(&app, Some(&wrong), "/api/orgs/acme", &[]),
        &wrong,
        "bad signature",
    );
    // Without --jwt-audience, `aud` is not checked; without --jwt-issuer, `iss` neither.
    let any = claims("alice", json!({"aud": "whatever", "iss": null}));
    allowed_as(
        &ask(
            &app,
            Some(&token(Algorithm::RS256, None, &rsa("rsa-a.key.pem"), &any)),
            "/api/orgs/acme",
            &[],
        ),
        "alice",
    );
    // The identity header alone is refused, as the header source would with no trusted peer.
    let a = ask(&app, None, "/api/orgs/acme", &[("x-user-id", "alice")]);
    assert_eq!(a.body["code"], "NO_IDENTITY", "{}", a.raw);
}

#[test]
fn an_es256_key_and_another_principal_claim() {
    let app = app(
        &[
            "--jwt-public-key",
            &fixture("ec-p256.pub.pem"),
            "--jwt-claim",
            "email",
        ],
        &[],
    );
    app.member("acme", "eve@example.com", "viewer");
    let ec = EncodingKey::from_ec_pem(&pem("ec-p256.key.pem")).unwrap();
    let c = claims("alice", json!({"email": "eve@example.com"}));
    let a = ask(
        &app,
        Some(&token(Algorithm::ES256, None, &ec, &c)),
        "/api/orgs/acme",
        &[],
    );
    allowed_as(&a, "eve@example.com");
    assert_eq!(a.header("x-tollgate-role"), Some("viewer"));
    // `sub` is not the principal now: without `email` the token names nobody.
    let t = token(Algorithm::ES256, None, &ec, &claims("alice", json!({})));
    refused(&ask(&app, Some(&t), "/api/orgs/acme", &[]), &t, "`email`");
    let t = token(
        Algorithm::ES256,
        None,
        &ec,
        &claims("alice", json!({"email": ["x"]})),
    );
    refused(&ask(&app, Some(&t), "/api/orgs/acme", &[]), &t, "`email`");
    // An RS256 token cannot use the EC key.
    let t = token(Algorithm::RS256, None, &rsa("rsa-a.key.pem"), &c);
    refused(
        &ask(&app, Some(&t), "/api/orgs/acme", &[]),
        &t,
        "algorithm not allowed",
    );
}

#[test]
fn a_jwks_file_with_two_kids_chooses_the_key_by_kid() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jwks.json");
    let (a_key, b_key) = (rsa("rsa-a.key.pem"), rsa("rsa-b.key.pem"));
    std::fs::write(
        &file,
        jwks(&[
            jwk(&a_key, Algorithm::RS256, "key-a"),
            jwk(&b_key, Algorithm::RS256, "key-b"),
        ]),
    )
    .unwrap();
    let app = app(&["--jwt-jwks", file.to_str().unwrap()], &[]);
    let c = claims("alice", json!({}));
    for (kid, key) in [("key-a", &a_key), ("key-b", &b_key)] {
        allowed_as(
            &ask(
                &app,
                Some(&token(Algorithm::RS256, Some(kid), key, &c)),
                "/api/orgs/acme",
                &[],
            ),
            "alice",
        );
    }
    let t = token(Algorithm::RS256, Some("key-b"), &a_key, &c);
    refused(
        &ask(&app, Some(&t), "/api/orgs/acme", &[]),
        &t,
        "bad signature",
    );
    let t = token(Algorithm::RS256, Some("key-c"), &a_key, &c);
    refused(
        &ask(&app, Some(&t), "/api/orgs/acme", &[]),
        &t,
        "unknown kid",
    );
    let t = token(Algorithm::RS256, None, &a_key, &c);
    refused(&ask(&app, Some(&t), "/api/orgs/acme", &[]), &t, "2 keys");

    // The file is re-read when it changes: key-b leaves.
    let tmp = dir.path().join("jwks.tmp");
    std::fs::write(&tmp, jwks(&[jwk(&a_key, Algorithm::RS256, "key-a")])).unwrap();
    std::fs::rename(&tmp, &file).unwrap();
    let b = token(Algorithm::RS256, Some("key-b"), &b_key, &c);
    let gone = until(Duration::from_secs(10), || {
        ask(&app, Some(&b), "/api/orgs/acme", &[]).status == 401
    });
    assert!(gone, "key-b is refused once the file dropped it");
    refused(
        &ask(&app, Some(&b), "/api/orgs/acme", &[]),
        &b,
        "unknown kid",
    );
    allowed_as(
        &ask(
            &app,
            Some(&token(Algorithm::RS256, None, &a_key, &c)),
            "/api/orgs/acme",
            &[],
        ),
        "alice",
    );
}

/// Polls `f` until it holds or `limit` passes.
fn until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    f()
}

/// A JWKS server on loopback: serves `body` (or a 500 while `failing`), counting requests.
struct KeyServer {
    url: String,
    body: Arc<Mutex<String>>,
    failing: Arc<AtomicBool>,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl KeyServer {
    fn start(body: String) -> KeyServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        );
        let body = Arc::new(Mutex::new(body));
        let failing = Arc::new(AtomicBool::new(false));
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, f, h, s) = (body.clone(), failing.clone(), hits.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let (mut conn, _) = match listener.accept() {
                    Ok(c) => c,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                };
                conn.set_nonblocking(false).unwrap();
                conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                h.fetch_add(1, Ordering::SeqCst);
                let (status, text) = if f.load(Ordering::SeqCst) {
                    ("500 Internal Server Error", "oops".to_string())
                } else {
                    ("200 OK", b.lock().unwrap().clone())
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        KeyServer {
            url,
            body,
            failing,
            hits,
            stop,
            thread: Some(thread),
        }
    }

    fn serve(&self, body: String) {
        *self.body.lock().unwrap() = body;
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn a_jwks_url_is_fetched_at_start_and_refetched_for_a_new_kid_at_most_once_per_ten_seconds() {
    let (a_key, b_key) = (rsa("rsa-a.key.pem"), rsa("rsa-b.key.pem"));
    let server = KeyServer::start(jwks(&[jwk(&a_key, Algorithm::RS256, "key-a")]));
    // The scheduled refresh is far away: every fetch below is the start's or on demand.
    let app = app(
        &["--jwt-jwks", &server.url, "--jwt-jwks-refresh", "3600"],
        &[],
    );
    assert_eq!(server.hits(), 1, "fetched once, at start");
    let c = claims("alice", json!({}));
    let ask_kid = |kid: &str, key: &EncodingKey| {
        ask(
            &app,
            Some(&token(Algorithm::RS256, Some(kid), key, &c)),
            "/api/orgs/acme",
            &[],
        )
    };
    allowed_as(&ask_kid("key-a", &a_key), "alice");
    assert_eq!(server.hits(), 1, "a known kid fetches nothing");

    // The identity provider adds key-b: the first token naming it asks for a fetch and is
    // refused at once (no request waits on the provider); once fetched, key-b is accepted.
    server.serve(jwks(&[
        jwk(&a_key, Algorithm::RS256, "key-a"),
        jwk(&b_key, Algorithm::RS256, "key-b"),
    ]));
    let first = ask_kid("key-b", &b_key);
    assert_eq!(first.status, 401, "{}", first.raw);
    assert!(until(Duration::from_secs(10), || server.hits() == 2));
    assert!(until(Duration::from_secs(10), || ask_kid("key-b", &b_key)
        .status
        == 200));
    allowed_as(&ask_kid("key-b", &b_key), "alice");
    assert_eq!(server.hits(), 2);

    // A flood of made-up kids right after: refused, and the provider is not asked again.
    for i in 0..25 {
        let kid = format!("made-up-{i}");
        let t = token(Algorithm::RS256, Some(&kid), &a_key, &c);
        refused(
            &ask(&app, Some(&t), "/api/orgs/acme", &[]),
            &t,
            "unknown kid",
        );
    }
    assert_eq!(server.hits(), 2, "on-demand fetches are rate-limited");
    allowed_as(&ask_kid("key-a", &a_key), "alice");
}

#[test]
fn a_jwks_url_rotation_drops_the_old_kid_at_the_refresh_and_a_failed_fetch_keeps_the_last_set() {
    let (a_key, b_key) = (rsa("rsa-a.key.pem"), rsa("rsa-b.key.pem"));
    let server = KeyServer::start(jwks(&[jwk(&a_key, Algorithm::RS256, "key-a")]));
    let app = app(&["--jwt-jwks", &server.url, "--jwt-jwks-refresh", "1"], &[]);
    let c = claims("alice", json!({}));
    let a = token(Algorithm::RS256, Some("key-a"), &a_key, &c);
    let b = token(Algorithm::RS256, Some("key-b"), &b_key, &c);
    allowed_as(&ask(&app, Some(&a), "/api/orgs/acme", &[]), "alice");

    // Rotated: key-b replaces key-a. The scheduled refresh drops key-a.
    server.serve(jwks(&[jwk(&b_key, Algorithm::RS256, "key-b")]));
    let dropped = until(Duration::from_secs(10), || {
        ask(&app, Some(&a), "/api/orgs/acme", &[]).status == 401
    });
    assert!(dropped, "key-a is refused after the refresh");
    refused(
        &ask(&app, Some(&a), "/api/orgs/acme", &[]),
        &a,
        "unknown kid",
    );
    allowed_as(&ask(&app, Some(&b), "/api/orgs/acme", &[]), "alice");

    // The provider fails, then serves junk, then a set with no usable key: key-b still works.
    let before = server.hits();
    server.failing.store(true, Ordering::SeqCst);
    assert!(until(Duration::from_secs(10), || server.hits() >= before + 2));
    allowed_as(&ask(&app, Some(&b), "/api/orgs/acme", &[]), "alice");
    server.failing.store(false, Ordering::SeqCst);
    for junk in [
        "{not json".to_string(),
        jwks(&[json!({"kty": "oct", "k": "c2VjcmV0", "kid": "key-b"})]),
        // Over the 1 MiB bound: were it read, key-b would be gone.
        format!(
            "{{\"keys\": [{}], \"pad\": \"{}\"}}",
            jwk(&a_key, Algorithm::RS256, "key-a"),
            "x".repeat(1_100_000)
        ),
    ] {
        server.serve(junk);
        let seen = server.hits();
        assert!(until(Duration::from_secs(10), || server.hits() >= seen + 2));
        allowed_as(&ask(&app, Some(&b), "/api/orgs/acme", &[]), "alice");
    }
}

#[test]
fn the_daemon_does_not_start_without_its_keys_and_validate_checks_them_without_fetching() {
    // Nothing listens on this port: `serve` fails fast, with a configuration error.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/jwks.json", l.local_addr().unwrap());
        drop(l);
        url
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let (code, out, err) = run_cli(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--db",
        db.to_str().unwrap(),
        "--jwt-jwks",
        &closed,
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("configuration error") && err.contains("cannot fetch"),
        "{err}"
    );
    assert!(!out.contains("listening"), "{out}");
    // `validate` resolves the same settings but never fetches.
    let (code, out, err) = run_cli(&["validate", "--jwt-jwks", &closed]);
    assert_eq!(code, 0, "{out}{err}");
    // ... and refuses what `serve` would.
    for (args, says) in [
        (
            vec!["--jwt-public-key", &fixture("rsa-a.key.pem")],
            "private key",
        ),
        (
            vec!["--jwt-public-key", &fixture("rsa-1024.pub.pem")],
            "1024 bits",
        ),
        (
            vec![
                "--jwt-public-key",
                &fixture("rsa-a.pub.pem"),
                "--jwt-algorithms",
                "none",
            ],
            "`none` is never allowed",
        ),
        (
            vec![
                "--jwt-public-key",
                &fixture("rsa-a.pub.pem"),
                "--jwt-algorithms",
                "ES256",
            ],
            "allow nothing",
        ),
        (
            vec!["--jwt-jwks", "http://idp.example/jwks.json"],
            "plain HTTP",
        ),
        (vec!["--jwt-issuer", ISSUER], "no key"),
    ] {
        let mut argv = vec!["validate"];
        argv.extend(args.iter().copied());
        let (code, out, err) = run_cli(&argv);
        assert_eq!(code, 1, "{argv:?}: {out}{err}");
        assert!(err.contains(says), "{argv:?}: {err}");
    }
}

#[test]
fn a_short_secret_is_refused_at_start_without_being_quoted() {
    let short = "short-jwt-secret-123";
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["validate"])
        .current_dir(dir.path())
        .env("TOLLGATE_JWT_SECRET", short)
        .env_remove("TOLLGATE_ROUTES")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("at least 32 bytes") && !err.contains(short),
        "{err}"
    );
}

#[test]
fn with_a_decision_token_the_proxy_proves_itself_and_the_client_token_names_the_user() {
    let proxy = "decision-token-0123456789";
    let app = app(
        &[],
        &[
            ("TOLLGATE_JWT_SECRET", SECRET),
            ("TOLLGATE_DECISION_TOKEN", proxy),
        ],
    );
    let t = token(Algorithm::HS256, None, &secret(), &claims("vic", json!({})));
    let a = ask(&app, Some(&t), "/api/orgs/acme", &[]);
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (401, Some("UNAUTHORIZED")),
        "the client's token is not the proxy's credential: {}",
        a.raw
    );
    allowed_as(
        &ask(
            &app,
            Some(&t),
            "/api/orgs/acme",
            &[("x-tollgate-token", proxy)],
        ),
        "vic",
    );
}
