//! Starts the daemon and offers one typed helper per kind of call. [`TestApp::spawn`] runs it
//! in this process through `startup::Application::build` (a real port, a real SQLite file,
//! settings by value, never the process environment); [`TestApp::process`] runs the binary, for
//! what needs a process of its own: a crash, a signal, a restart, two processes on one file.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clap::Parser;
use tollgate::cli::{Cli, Command as TollgateCommand};
use tollgate::config::Tokens;
use tollgate::startup::Application;

use serde_json::{json, Value};

/// The admin token every test daemon uses.
pub const ADMIN: &str = "test-admin-token-0123456789";

/// How a test daemon runs.
enum Daemon {
    /// The `tollgate` binary.
    Process(Child),
    /// `Application::build` on a thread of this process.
    InProcess {
        handle: actix_web::dev::ServerHandle,
        thread: Option<std::thread::JoinHandle<()>>,
    },
}

/// A running daemon and the temp dir holding its database.
pub struct TestApp {
    pub base: String,
    daemon: Daemon,
    pub dir: tempfile::TempDir,
    /// The database file (in `dir`, or in another daemon's dir for [`TestApp::beside`]).
    db: PathBuf,
    agent: ureq::Agent,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    /// What the daemon printed on stdout up to its `listening on` line.
    pub stdout: Vec<String>,
}

/// An HTTP answer: status and JSON body (`Value::Null` when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub raw: String,
    pub content_type: String,
    /// The `Allow` header, when the answer has one.
    pub allow: Option<String>,
    /// Every header of the answer, names in lower case, in order.
    pub headers: Vec<(String, String)>,
}

impl Answer {
    /// The first value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

fn start(db: &Path, args: &[String], envs: &[(String, String)]) -> (Child, String, Vec<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.arg("serve");
    if !args.iter().any(|a| a == "--listen") {
        cmd.arg("--listen").arg("127.0.0.1:0");
    }
    cmd.arg("--db")
        .arg(db)
        .args(args)
        .env_remove("TOLLGATE_DECISION_TOKEN")
        .env("TOLLGATE_ADMIN_TOKEN", ADMIN)
        .env(
            "TOLLGATE_LOG",
            std::env::var("TEST_LOG").unwrap_or_else(|_| "error".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(if std::env::var("TEST_LOG").is_ok() {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn tollgate");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    let base = loop {
        match lines.next() {
            Some(Ok(line)) => {
                printed.push(line.clone());
                if let Some(addr) = line.strip_prefix("listening on ") {
                    break addr.trim().to_string();
                }
            }
            _ => {
                let status = child.wait().expect("wait");
                panic!("tollgate exited before listening: {status}");
            }
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, base, printed)
}

/// Starts the daemon in this process with the flags the binary would get, parsed by the
/// binary's own parser; the settings the tests pass as environment are given by value.
fn start_in_process(db: &Path, args: &[String], envs: &[(String, String)]) -> (Daemon, String) {
    if let Some((k, _)) = std::env::vars().find(|(k, _)| k.starts_with("TOLLGATE_")) {
        panic!("`{k}` is set in the test process: in-process daemons take settings by value");
    }
    let mut argv: Vec<String> = vec!["tollgate".into(), "serve".into()];
    if !args.iter().any(|a| a == "--listen") {
        argv.extend(["--listen".into(), "127.0.0.1:0".into()]);
    }
    argv.extend(["--db".into(), db.display().to_string()]);
    argv.extend(args.iter().cloned());
    let mut tokens = Tokens {
        admin: Some(ADMIN.into()),
        decision: None,
        jwt_secret: None,
        stripe_webhook_secret: None,
        stripe_secret_key: None,
    };
    for (k, v) in envs {
        match k.as_str() {
            "TOLLGATE_ADMIN_TOKEN" => tokens.admin = Some(v.clone()),
            "TOLLGATE_DECISION_TOKEN" => tokens.decision = Some(v.clone()),
            // A secret, like the tokens: never a flag, so it is given by value too.
            "TOLLGATE_JWT_SECRET" => tokens.jwt_secret = Some(v.clone()),
            "TOLLGATE_PAST_DUE_GRACE_DAYS" => {
                argv.extend(["--past-due-grace-days".into(), v.clone()])
            }
            "STRIPE_WEBHOOK_SECRET" => tokens.stripe_webhook_secret = Some(v.clone()),
            "STRIPE_SECRET_KEY" => tokens.stripe_secret_key = Some(v.clone()),
            "TOLLGATE_STRIPE_PRICES" => argv.extend(["--stripe-prices".into(), v.clone()]),
            "TOLLGATE_STRIPE_TOLERANCE" => argv.extend(["--stripe-tolerance".into(), v.clone()]),
            "TOLLGATE_STRIPE_API_BASE" => argv.extend(["--stripe-api-base".into(), v.clone()]),
            other => panic!("`{other}` has no in-process form; use TestApp::process_with"),
        }
    }
    let serve = match Cli::try_parse_from(&argv).expect("flags").command {
        Some(TollgateCommand::Serve(a)) => a,
        _ => panic!("not a serve command: {argv:?}"),
    };
    let settings = serve.resolve(tokens).expect("settings");
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            match Application::build(settings) {
                Ok(app) => {
                    let _ = tx.send(Ok((app.addr(), app.handle())));
                    let _ = app.run().await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        })
    });
    let (addr, handle) = rx
        .recv()
        .expect("the daemon thread")
        .unwrap_or_else(|e| panic!("tollgate did not start: {e}"));
    let daemon = Daemon::InProcess {
        handle,
        thread: Some(thread),
    };
    (daemon, format!("http://{addr}"))
}

impl TestApp {
    /// A daemon on the embedded default model, in this process.
    pub fn spawn() -> TestApp {
        Self::spawn_with(&[], &[])
    }

    /// A daemon with extra flags (and settings given as their environment variables), in this
    /// process.
    pub fn spawn_with(args: &[&str], envs: &[(&str, &str)]) -> TestApp {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Self::spawn_owned(args, envs)
    }

    /// Like [`TestApp::spawn_with`], with owned arguments.
    pub fn spawn_owned(args: Vec<String>, envs: &[(&str, &str)]) -> TestApp {
        Self::new(args, envs, false)
    }

    /// The `tollgate` binary as a process of its own, on the embedded default model.
    pub fn process() -> TestApp {
        Self::process_with(&[], &[])
    }

    /// The binary with extra flags and environment.
    pub fn process_with(args: &[&str], envs: &[(&str, &str)]) -> TestApp {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Self::new(args, envs, true)
    }

    fn new(args: Vec<String>, envs: &[(&str, &str)], process: bool) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let envs: Vec<(String, String)> = envs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let db = dir.path().join("tollgate.db");
        let (daemon, base, stdout) = if process {
            let (child, base, stdout) = start(&db, &args, &envs);
            (Daemon::Process(child), base, stdout)
        } else {
            let (daemon, base) = start_in_process(&db, &args, &envs);
            (daemon, base, Vec::new())
        };
        TestApp {
            base,
            daemon,
            dir,
            db,
            agent: agent(),
            args,
            envs,
            stdout,
        }
    }

    fn child(&mut self) -> &mut Child {
        match &mut self.daemon {
            Daemon::Process(c) => c,
            Daemon::InProcess { .. } => panic!("this test needs TestApp::process"),
        }
    }

    /// Kills the daemon (SIGKILL, no graceful shutdown) and starts a new one on the same files.
    pub fn kill_and_restart(&mut self) {
        let child = self.child();
        let _ = child.kill();
        let _ = child.wait();
        let (child, base, stdout) = start(&self.db, &self.args, &self.envs);
        self.daemon = Daemon::Process(child);
        self.base = base;
        self.stdout = stdout;
    }

    pub fn pid(&self) -> u32 {
        match &self.daemon {
            Daemon::Process(c) => c.id(),
            Daemon::InProcess { .. } => panic!("this test needs TestApp::process"),
        }
    }

    pub fn db_path(&self) -> PathBuf {
        self.db.clone()
    }

    /// A second daemon, same flags, on this daemon's database file: another process writing
    /// the same store.
    pub fn beside(&self) -> TestApp {
        let (child, base, stdout) = start(&self.db, &self.args, &self.envs);
        TestApp {
            base,
            daemon: Daemon::Process(child),
            dir: tempfile::tempdir().expect("tempdir"),
            db: self.db.clone(),
            agent: agent(),
            args: self.args.clone(),
            envs: self.envs.clone(),
            stdout,
        }
    }

    /// Sends `method path` with an optional JSON body and optional bearer token.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Answer {
        let raw_body = body.map(|b| b.to_string());
        self.call_raw(method, path, raw_body.as_deref(), "application/json", token)
    }

    pub fn call_raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        content_type: &str,
        token: Option<&str>,
    ) -> Answer {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = auth
            .as_deref()
            .map(|a| ("authorization", a))
            .into_iter()
            .collect();
        self.call_headers(method, path, body, content_type, &headers)
    }

    /// Sends `method path` with exactly these extra headers (and a body of `content_type`).
    pub fn call_headers(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        content_type: &str,
        headers: &[(&str, &str)],
    ) -> Answer {
        let url = format!("{}{}", self.base, path);
        let mut req = ureq::http::Request::builder().method(method).uri(&url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = match body {
            Some(b) => {
                let req = req
                    .header("content-type", content_type)
                    .body(b.to_string())
                    .expect("request");
                self.agent.run(req)
            }
            None => {
                let req = req.body(()).expect("request");
                self.agent.run(req)
            }
        };
        let mut resp = resp.expect("http call");
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let allow = resp
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let raw = resp.body_mut().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
        Answer {
            status,
            body,
            raw,
            content_type,
            allow,
            headers,
        }
    }

    /// Admin call.
    pub fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.call(method, path, body.as_ref(), Some(ADMIN))
    }

    /// Admin write that must succeed.
    pub fn ok(&self, method: &str, path: &str, body: Value) -> Value {
        let a = self.admin(method, path, Some(body));
        assert!(
            a.status < 300,
            "{method} {path} answered {}: {}",
            a.status,
            a.raw
        );
        a.body
    }

    /// `POST /v1/authorize` that must answer 200; returns the decision body.
    pub fn authorize(&self, req: Value) -> Value {
        let a = self.call("POST", "/v1/authorize", Some(&req), None);
        assert_eq!(
            a.status, 200,
            "authorize {req} answered {}: {}",
            a.status, a.raw
        );
        a.body
    }

    /// Creates an org with a plan and primary owner.
    pub fn org(&self, org: &str, plan: &str, owner: &str) {
        self.ok(
            "PUT",
            &format!("/v1/orgs/{org}"),
            json!({"plan": plan, "primary_owner": owner}),
        );
    }

    /// Adds or changes a member, overriding limits (fixtures, not the subject of the test).
    pub fn member(&self, org: &str, user: &str, role: &str) {
        self.ok(
            "PUT",
            &format!("/v1/orgs/{org}/members/{user}"),
            json!({"role": role, "override_limits": true}),
        );
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        match &mut self.daemon {
            Daemon::Process(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Daemon::InProcess { handle, thread } => {
                // The stop command is sent at once; the thread ends when the server has.
                drop(handle.stop(false));
                if let Some(t) = thread.take() {
                    let _ = t.join();
                }
            }
        }
    }
}

/// A decision request on the default model.
pub fn req(principal: &str, action: &str, resource: (&str, &str), context: Value) -> Value {
    json!({
        "principal": {"type": "User", "id": principal},
        "action": {"type": "Action", "id": action},
        "resource": {"type": resource.0, "id": resource.1},
        "context": context,
    })
}

/// RFC 3339 time `secs` from now.
pub fn in_secs(secs: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(secs);
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("format")
}

/// A copy of the default model's files in a temp dir, for tests that edit them.
pub struct ModelCopy {
    pub dir: tempfile::TempDir,
}

impl ModelCopy {
    pub fn new() -> ModelCopy {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::create_dir(dir.path().join("policies")).unwrap();
        for entry in std::fs::read_dir(root.join("policies")).unwrap() {
            let p = entry.unwrap().path();
            if p.extension().is_some_and(|e| e == "cedar") {
                std::fs::copy(&p, dir.path().join("policies").join(p.file_name().unwrap()))
                    .unwrap();
            }
        }
        std::fs::copy(
            root.join("schema/tollgate.cedarschema"),
            dir.path().join("tollgate.cedarschema"),
        )
        .unwrap();
        std::fs::copy(
            root.join("schema/plans.toml"),
            dir.path().join("plans.toml"),
        )
        .unwrap();
        ModelCopy { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// `--policies DIR --schema FILE --plans FILE` for this copy.
    pub fn args(&self) -> Vec<String> {
        vec![
            "--policies".into(),
            self.path("policies").display().to_string(),
            "--schema".into(),
            self.path("tollgate.cedarschema").display().to_string(),
            "--plans".into(),
            self.path("plans.toml").display().to_string(),
        ]
    }

    /// Replaces a file's content atomically (write beside, then rename), as editors do.
    pub fn write(&self, rel: &str, text: &str) {
        let target = self.path(rel);
        let tmp = target.with_extension("tmp~");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &target).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }
}

/// Runs the `tollgate` binary to completion: (exit code, stdout, stderr).
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .env_remove("TOLLGATE_POLICIES")
        .env_remove("TOLLGATE_SCHEMA")
        .env_remove("TOLLGATE_PLANS")
        .env_remove("TOLLGATE_DB")
        .env_remove("TOLLGATE_ROUTES")
        .stdin(Stdio::null())
        .output()
        .expect("run tollgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
