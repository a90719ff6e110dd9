//! `POST /webhooks/stripe` against the real daemon, with every `Stripe-Signature` made by
//! Stripe's own Python library (`tests/stripe/sign.py` in `target/stripe-venv`, which
//! scripts/stripe-setup.sh makes and CI runs; without it these tests skip outside CI and fail
//! under it) and events from Stripe-shaped fixtures (`tests/fixtures/stripe/`, both API shapes).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{json, Value};

use crate::helpers::{req, TestApp};

const SECRET: &str = "whsec_tollgate_test_secret_new";
const OLD_SECRET: &str = "whsec_tollgate_test_secret_old";
const PRICES: &str = "price_starter=starter,price_pro=professional,lookup:pro_yearly=professional";

/// Stripe's library, signing over a pipe.
struct Signer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Signer {
    fn start() -> Option<Signer> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = root.join("target/stripe-venv/bin/python");
        if !python.is_file() {
            assert!(
                std::env::var_os("CI").is_none(),
                "the stripe library is not installed: run scripts/stripe-setup.sh"
            );
            eprintln!("skipped: the stripe library is not installed (scripts/stripe-setup.sh)");
            return None;
        }
        let mut child = Command::new(python)
            .arg(root.join("tests/stripe/sign.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the signer starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Some(Signer {
            child,
            stdin,
            stdout,
        })
    }

    fn header(&mut self, payload: &str, secret: &str, timestamp: i64, v1_count: u32) -> String {
        let line = json!({"payload": payload, "secret": secret, "timestamp": timestamp, "v1_count": v1_count});
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let mut out = String::new();
        self.stdout.read_line(&mut out).unwrap();
        assert!(out.starts_with("t="), "the signer answered {out:?}");
        out.trim_end().to_string()
    }
}

impl Drop for Signer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An event from a fixture, its placeholders replaced.
fn event(name: &str, vars: &[(&str, &str)]) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/stripe")
        .join(format!("{name}.json"));
    let mut text = std::fs::read_to_string(&path).unwrap();
    let defaults = [
        ("LOOKUP_KEY", "null"),
        ("PERIOD_END", "1893456000"),
        ("PRICE", "price_pro"),
        ("STATUS", "active"),
        ("ORG", ""),
    ];
    for (k, v) in vars.iter().chain(defaults.iter()) {
        text = text.replace(&format!("{{{{{k}}}}}"), v);
    }
    assert!(
        !text.contains("{{"),
        "{name}: a placeholder is left: {text}"
    );
    serde_json::from_str::<Value>(&text).expect("the fixture is JSON");
    text
}

struct Billing {
    app: TestApp,
    signer: Signer,
    n: u32,
}

impl Billing {
    fn start(extra: &[(&str, &str)]) -> Option<Billing> {
        let signer = Signer::start()?;
        let secrets = format!("{OLD_SECRET},{SECRET}");
        let mut envs = vec![
            ("STRIPE_WEBHOOK_SECRET", secrets.as_str()),
            ("TOLLGATE_STRIPE_PRICES", PRICES),
        ];
        envs.extend_from_slice(extra);
        let app = TestApp::spawn_with(&[], &envs);
        Some(Billing { app, signer, n: 0 })
    }

    fn post(&self, body: &str, header: Option<&str>) -> crate::helpers::Answer {
        let headers: Vec<(&str, &str)> = header
            .map(|h| ("stripe-signature", h))
            .into_iter()
            .collect();
        self.app.call_headers(
            "POST",
            "/webhooks/stripe",
            Some(body),
            "application/json",
            &headers,
        )
    }

    /// Sends an event signed now with the current secret; returns the answer.
    fn send(&mut self, body: &str) -> crate::helpers::Answer {
        let h = self.signer.header(body, SECRET, now(), 1);
        self.post(body, Some(&h))
    }

    /// Sends a fixture with a fresh event id, created at `created`; returns the outcome.
    fn deliver(&mut self, name: &str, created: i64, vars: &[(&str, &str)]) -> String {
        self.n += 1;
        let id = format!("evt_test_{}_{}", self.n, created);
        let created = created.to_string();
        let mut all = vec![("EVENT_ID", id.as_str()), ("CREATED", created.as_str())];
        all.extend_from_slice(vars);
        let a = self.send(&event(name, &all));
        assert_eq!(a.status, 200, "{name}: {}", a.raw);
        assert_eq!(a.body["received"], true);
        assert_eq!(a.body["id"], id.as_str());
        a.body["outcome"].as_str().unwrap().to_string()
    }

    fn org(&self, org: &str) -> Value {
        let a = self.app.admin("GET", &format!("/v1/orgs/{org}"), None);
        assert_eq!(a.status, 200, "{}", a.raw);
        a.body
    }

    /// The decision on `create_project` for alice (the owner) with the org at 3 projects:
    /// free's limit is 3, professional's 100.
    fn project(&self, org: &str) -> String {
        let d = self
            .app
            .authorize(req("alice", "create_project", ("Org", org), json!({})));
        d["decision"].as_str().unwrap().to_string()
    }

    fn setup_org(&self, org: &str) {
        self.app.org(org, "free", "alice");
        self.app.ok(
            "PUT",
            &format!("/v1/orgs/{org}/usage/quota:project"),
            json!({"current": 3}),
        );
    }

    fn audit(&self) -> Vec<(Option<String>, Value)> {
        let db = rusqlite::Connection::open(self.app.db_path()).unwrap();
        let mut st = db
            .prepare("SELECT org, detail FROM audit WHERE action = 'stripe.event' ORDER BY seq")
            .unwrap();
        st.query_map([], |r| {
            let detail: String = r.get(1)?;
            Ok((r.get(0)?, serde_json::from_str(&detail).unwrap()))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }
}

fn stripe_events(app: &TestApp) -> i64 {
    let db = rusqlite::Connection::open(app.db_path()).unwrap();
    db.query_row("SELECT COUNT(*) FROM stripe_events", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn only_a_signature_by_a_configured_secret_within_the_tolerance_is_accepted() {
    let Some(mut b) = Billing::start(&[]) else {
        return;
    };
    b.setup_org("acme");
    let t = now();
    let body = event(
        "customer.subscription.updated.new-api",
        &[
            ("EVENT_ID", "evt_sig_1"),
            ("CREATED", &t.to_string()),
            ("CUSTOMER", "cus_sig"),
            ("SUBSCRIPTION", "sub_sig"),
            ("ORG", "acme"),
        ],
    );
    let refused = |b: &Billing, header: Option<&str>, body: &str, code: &str| {
        let a = b.post(body, header);
        assert_eq!(a.status, 400, "{header:?}: {}", a.raw);
        assert_eq!(a.body["code"], code, "{header:?}");
        assert!(a.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    };
    // Tampered body, wrong secret, no header, a malformed one, stale and future timestamps.
    let good = b.signer.header(&body, SECRET, t, 1);
    refused(
        &b,
        Some(&good),
        &body.replace("acme", "acmf"),
        "INVALID_SIGNATURE",
    );
    refused(&b, Some(&good), &format!("{body} "), "INVALID_SIGNATURE");
    let wrong = b.signer.header(&body, "whsec_not_ours", t, 1);
    refused(&b, Some(&wrong), &body, "INVALID_SIGNATURE");
    refused(&b, None, &body, "INVALID_SIGNATURE");
    refused(&b, Some("t=abc,v1=zz"), &body, "INVALID_SIGNATURE");
    refused(&b, Some(&format!("t={t}")), &body, "INVALID_SIGNATURE");
    let stale = b.signer.header(&body, SECRET, t - 310, 1);
    refused(&b, Some(&stale), &body, "TIMESTAMP_OUT_OF_TOLERANCE");
    let future = b.signer.header(&body, SECRET, t + 310, 1);
    refused(&b, Some(&future), &body, "TIMESTAMP_OUT_OF_TOLERANCE");
    assert_eq!(stripe_events(&b.app), 0, "a refused event changes nothing");
    assert_eq!(b.org("acme")["plan"], "free");
    assert_eq!(b.project("acme"), "payment_required");

    // Several v1 values (the real one last), and the old secret during a rotation.
    let several = b.signer.header(&body, SECRET, t, 3);
    assert_eq!(several.matches("v1=").count(), 3, "{several}");
    let a = b.post(&body, Some(&several));
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["outcome"], "applied");
    assert_eq!(
        b.project("acme"),
        "allow",
        "the next decision sees the plan"
    );
    let body2 = body.replace("evt_sig_1", "evt_sig_2");
    let old = b.signer.header(&body2, OLD_SECRET, t, 1);
    let a = b.post(&body2, Some(&old));
    assert_eq!(a.status, 200, "{}", a.raw);

    // An event dated after its signature would make every real one after it stale: even one
    // second after it, within the tolerance.
    for later in [1, 86_400] {
        let future_event = body
            .replace("evt_sig_1", "evt_sig_3")
            .replace(&t.to_string(), &(t + later).to_string());
        let h = b.signer.header(&future_event, SECRET, t, 1);
        refused(&b, Some(&h), &future_event, "MALFORMED_EVENT");
    }
    // A signed body that is not an event.
    let h = b.signer.header("[1, 2]", SECRET, t, 1);
    refused(&b, Some(&h), "[1, 2]", "MALFORMED_EVENT");
}

#[test]
fn without_a_secret_no_event_is_accepted_and_the_tolerance_is_configurable() {
    let Some(mut signer) = Signer::start() else {
        return;
    };
    let app = TestApp::spawn();
    let body = event(
        "customer.created",
        &[
            ("EVENT_ID", "evt_x"),
            ("CREATED", "1"),
            ("CUSTOMER", "cus_x"),
            ("ORG", "acme"),
        ],
    );
    let h = signer.header(&body, SECRET, now(), 1);
    let a = app.call_headers(
        "POST",
        "/webhooks/stripe",
        Some(&body),
        "application/json",
        &[("stripe-signature", &h)],
    );
    assert_eq!(a.status, 503, "{}", a.raw);
    assert_eq!(a.body["code"], "STRIPE_NOT_CONFIGURED");
    drop(app);

    let app = TestApp::spawn_with(
        &[],
        &[
            ("STRIPE_WEBHOOK_SECRET", SECRET),
            ("TOLLGATE_STRIPE_TOLERANCE", "10"),
        ],
    );
    for (skew, status) in [(-60, 400), (60, 400), (-5, 200)] {
        let h = signer.header(&body, SECRET, now() + skew, 1);
        let a = app.call_headers(
            "POST",
            "/webhooks/stripe",
            Some(&body),
            "application/json",
            &[("stripe-signature", &h)],
        );
        assert_eq!(a.status, status, "{skew}: {}", a.raw);
    }
}

#[test]
fn the_lifecycle_moves_the_plan_and_the_next_decision_shows_it() {
    let Some(mut b) = Billing::start(&[("TOLLGATE_PAST_DUE_GRACE_DAYS", "7")]) else {
        return;
    };
    b.setup_org("acme");
    let t = now() - 3600;
    let ids = [("CUSTOMER", "cus_acme"), ("SUBSCRIPTION", "sub_acme")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut v: Vec<(&str, &str)> = ids.to_vec();
        v.extend_from_slice(extra);
        v
    };
    assert_eq!(b.project("acme"), "payment_required");
    assert_eq!(
        b.deliver("checkout.session.completed", t, &with(&[("ORG", "acme")])),
        "linked"
    );
    assert_eq!(
        b.project("acme"),
        "payment_required",
        "a checkout alone sets no plan"
    );
    // subscription.created has no metadata: the org comes from the checkout's customer link.
    assert_eq!(
        b.deliver(
            "customer.subscription.created",
            t + 1,
            &with(&[("STATUS", "active")])
        ),
        "applied"
    );
    assert_eq!(b.org("acme")["plan"], "professional");
    assert_eq!(b.project("acme"), "allow");
    // A failed renewal (old API shape): past due, still in grace.
    assert_eq!(
        b.deliver("invoice.payment_failed.old-api", t + 10, &with(&[])),
        "applied"
    );
    let o = b.org("acme");
    assert_eq!(o["subscription_status"], "past_due", "{o}");
    assert_eq!(o["effective_plan"], "professional", "{o}");
    assert_eq!(b.project("acme"), "allow");
    // Stripe's own update for the same change changes nothing more.
    assert_eq!(
        b.deliver(
            "customer.subscription.updated.old-api",
            t + 10,
            &with(&[("STATUS", "past_due"), ("ORG", "acme")])
        ),
        "no_change"
    );
    // Paid (new API shape: the subscription under `parent`): active again.
    assert_eq!(
        b.deliver("invoice.paid.new-api", t + 20, &with(&[])),
        "applied"
    );
    assert_eq!(b.org("acme")["subscription_status"], "active");
    // Paused gives free; resumed gives the plan back.
    assert_eq!(
        b.deliver(
            "customer.subscription.paused",
            t + 30,
            &with(&[("STATUS", "paused"), ("ORG", "acme")])
        ),
        "applied"
    );
    assert_eq!(b.project("acme"), "payment_required");
    assert_eq!(
        b.deliver(
            "customer.subscription.resumed",
            t + 40,
            &with(&[("STATUS", "active"), ("ORG", "acme")])
        ),
        "applied"
    );
    assert_eq!(b.project("acme"), "allow");
    // Canceled: free, and the 402 names the tier an active subscription would need.
    assert_eq!(
        b.deliver(
            "customer.subscription.deleted",
            t + 50,
            &with(&[("STATUS", "canceled"), ("ORG", "acme")])
        ),
        "applied"
    );
    let d = b
        .app
        .authorize(req("alice", "create_project", ("Org", "acme"), json!({})));
    assert_eq!(d["decision"], "payment_required", "{d}");
    assert_eq!(d["payment"]["required_plan"], "starter", "{d}");
    assert_eq!(b.org("acme")["subscription_status"], "canceled");

    // The grace period counts from the failed payment's `created`: placed 8 days back, it is
    // over (grace 7 days) and the org is on free although Stripe still says past_due.
    b.setup_org("late");
    let long_ago = now() - 8 * 86_400;
    let late = [("CUSTOMER", "cus_late"), ("SUBSCRIPTION", "sub_late")];
    let v = |extra: &[(&'static str, &'static str)]| {
        let mut x: Vec<(&str, &str)> = late.to_vec();
        x.extend_from_slice(extra);
        x
    };
    b.deliver(
        "checkout.session.completed.metadata",
        long_ago,
        &v(&[("ORG", "late")]),
    );
    b.deliver(
        "customer.subscription.updated.new-api",
        long_ago + 1,
        &v(&[("STATUS", "active"), ("ORG", "late")]),
    );
    assert_eq!(
        b.deliver("invoice.payment_failed.new-api", long_ago + 2, &v(&[])),
        "applied"
    );
    let o = b.org("late");
    assert_eq!(o["subscription_status"], "past_due", "{o}");
    assert_eq!(o["effective_plan"], "free", "{o}");
    assert_eq!(b.project("late"), "payment_required");
}

#[test]
fn duplicates_and_reordered_deliveries_change_nothing() {
    let Some(mut b) = Billing::start(&[]) else {
        return;
    };
    b.setup_org("acme");
    let t = now() - 600;
    let vars = |status: &'static str| {
        vec![
            ("CUSTOMER", "cus_d"),
            ("SUBSCRIPTION", "sub_d"),
            ("ORG", "acme"),
            ("STATUS", status),
        ]
    };
    let body = event(
        "customer.subscription.updated.new-api",
        &[
            &[("EVENT_ID", "evt_dup"), ("CREATED", &(t + 100).to_string())][..],
            &vars("active"),
        ]
        .concat(),
    );
    let a = b.send(&body);
    assert_eq!(a.body["outcome"], "applied", "{}", a.raw);
    let audit_rows = b.audit().len();
    // The same event again (Stripe delivers at least once): nothing changes, no new entry.
    let a = b.send(&body);
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["outcome"], "duplicate");
    assert_eq!(b.audit().len(), audit_rows);
    // An older update arriving late never overwrites the newer state.
    assert_eq!(
        b.deliver(
            "customer.subscription.updated.new-api",
            t + 50,
            &vars("canceled")
        ),
        "stale"
    );
    assert_eq!(b.org("acme")["subscription_status"], "active");
    assert_eq!(b.project("acme"), "allow");
    assert_eq!(
        b.deliver("invoice.payment_failed.new-api", t + 99, &vars("active")),
        "stale"
    );
    // The same `created` second applies in arrival order.
    assert_eq!(
        b.deliver(
            "customer.subscription.updated.old-api",
            t + 100,
            &vars("past_due")
        ),
        "applied"
    );
    assert_eq!(b.org("acme")["subscription_status"], "past_due");
    assert_eq!(
        b.deliver(
            "customer.subscription.updated.old-api",
            t + 100,
            &vars("active")
        ),
        "applied"
    );
    assert_eq!(b.org("acme")["subscription_status"], "active");
    let last = b.audit().pop().unwrap().1;
    assert_eq!(last["outcome"], "applied");
    assert_eq!(last["subscription"], "sub_d");
    // ...but never backwards: a checkout's burst arriving out of order, with `created` (and
    // its `incomplete`) last, all in one second, leaves the paying org on its plan.
    b.setup_org("burst");
    let burst = |status: &'static str| {
        vec![
            ("CUSTOMER", "cus_b"),
            ("SUBSCRIPTION", "sub_b"),
            ("ORG", "burst"),
            ("STATUS", status),
        ]
    };
    let s = t + 200;
    assert_eq!(
        b.deliver("checkout.session.completed", s, &burst("active")),
        "linked"
    );
    assert_eq!(
        b.deliver("customer.subscription.updated.new-api", s, &burst("active")),
        "applied"
    );
    assert_eq!(
        b.deliver("invoice.paid.new-api", s, &burst("active")),
        "no_change"
    );
    assert_eq!(
        b.deliver("customer.subscription.created", s, &burst("incomplete")),
        "stale"
    );
    assert_eq!(
        b.deliver(
            "customer.subscription.updated.old-api",
            s,
            &burst("incomplete")
        ),
        "stale"
    );
    assert_eq!(b.org("burst")["effective_plan"], "professional");
}

#[test]
fn a_subscription_before_its_checkout_waits_and_then_applies() {
    let Some(mut b) = Billing::start(&[]) else {
        return;
    };
    b.setup_org("acme");
    let t = now() - 600;
    let ids = [("CUSTOMER", "cus_early"), ("SUBSCRIPTION", "sub_early")];
    // No metadata and no link yet: kept, not lost, and no plan change.
    let mut created = ids.to_vec();
    created.push(("STATUS", "active"));
    assert_eq!(
        b.deliver("customer.subscription.created", t, &created),
        "pending"
    );
    assert_eq!(b.deliver("invoice.paid.old-api", t + 1, &ids), "pending");
    assert_eq!(b.project("acme"), "payment_required");
    let mut checkout = ids.to_vec();
    checkout.push(("ORG", "acme"));
    assert_eq!(
        b.deliver("checkout.session.completed", t + 2, &checkout),
        "linked"
    );
    assert_eq!(b.org("acme")["plan"], "professional");
    assert_eq!(b.project("acme"), "allow", "paid, and access");
    let outcomes: Vec<String> = b
        .audit()
        .iter()
        .map(|(org, d)| {
            format!(
                "{}:{}:{}",
                org.as_deref().unwrap_or("-"),
                d["type"].as_str().unwrap(),
                d["outcome"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            "-:customer.subscription.created:pending",
            "-:invoice.paid:pending",
            "acme:checkout.session.completed:linked",
            "acme:customer.subscription.created:applied",
            "acme:invoice.paid:no_change",
        ]
    );
}

#[test]
fn unknown_prices_orgs_and_types_are_recorded_and_change_nothing() {
    let Some(mut b) = Billing::start(&[]) else {
        return;
    };
    b.setup_org("acme");
    b.setup_org("globex");
    let t = now() - 600;
    let sub = |s: &'static str| vec![("CUSTOMER", "cus_u"), ("SUBSCRIPTION", s), ("ORG", "acme")];
    let mut unknown = sub("sub_u1");
    unknown.push(("PRICE", "price_nobody_mapped"));
    assert_eq!(
        b.deliver("customer.subscription.updated.new-api", t, &unknown),
        "unknown_price"
    );
    assert_eq!(b.org("acme")["plan"], "free");
    // A lookup key maps too.
    let mut by_key = sub("sub_u2");
    by_key.extend([("PRICE", "price_other"), ("LOOKUP_KEY", "\"pro_yearly\"")]);
    // A lookup key never matches a price id's entry.
    let mut confused = sub("sub_u3");
    confused.extend([("PRICE", "price_cheap"), ("LOOKUP_KEY", "\"price_pro\"")]);
    assert_eq!(
        b.deliver("customer.subscription.updated.new-api", t, &confused),
        "unknown_price"
    );
    assert_eq!(
        b.deliver("customer.subscription.updated.new-api", t + 1, &by_key),
        "applied"
    );
    assert_eq!(b.org("acme")["plan"], "professional");
    // An org that does not exist: recorded under no org.
    let ghost = vec![
        ("CUSTOMER", "cus_g"),
        ("SUBSCRIPTION", "sub_g"),
        ("ORG", "ghost"),
    ];
    assert_eq!(
        b.deliver("customer.subscription.updated.new-api", t + 2, &ghost),
        "unknown_org"
    );
    let nameless = vec![
        ("CUSTOMER", "cus_n"),
        ("SUBSCRIPTION", "sub_n"),
        ("ORG", "ghost"),
    ];
    assert_eq!(
        b.deliver("checkout.session.completed", t + 3, &nameless),
        "unknown_org"
    );
    // A subscription linked to acme cannot be moved to globex by its metadata.
    let moved = vec![
        ("CUSTOMER", "cus_u"),
        ("SUBSCRIPTION", "sub_u2"),
        ("ORG", "globex"),
    ];
    assert_eq!(
        b.deliver("customer.subscription.updated.new-api", t + 4, &moved),
        "org_conflict"
    );
    assert_eq!(b.org("globex")["plan"], "free");
    // A customer belongs to one org: a checkout for another is refused.
    let other = vec![
        ("CUSTOMER", "cus_u"),
        ("SUBSCRIPTION", "sub_x"),
        ("ORG", "globex"),
    ];
    assert_eq!(
        b.deliver("checkout.session.completed", t + 5, &other),
        "org_conflict"
    );
    assert_eq!(b.org("globex")["plan"], "free");
    assert_eq!(b.project("globex"), "payment_required");
    // A subscription naming one org for a customer linked to another: refused, nothing linked.
    let cross = vec![
        ("CUSTOMER", "cus_u"),
        ("SUBSCRIPTION", "sub_new"),
        ("ORG", "globex"),
    ];
    assert_eq!(
        b.deliver("customer.subscription.updated.new-api", t + 7, &cross),
        "org_conflict"
    );
    // An invoice for acme's subscription claiming another customer links nobody.
    let claim = vec![("CUSTOMER", "cus_other"), ("SUBSCRIPTION", "sub_u2")];
    assert_eq!(
        b.deliver("invoice.payment_failed.new-api", t + 8, &claim),
        "org_conflict"
    );
    let linked = rusqlite::Connection::open(b.app.db_path())
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM stripe_customers WHERE customer IN ('cus_other', 'cus_x')",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap();
    assert_eq!(linked, 0, "a refused event links no customer");
    assert_eq!(b.org("acme")["subscription_status"], "active");
    // A type Tollgate does not read.
    assert_eq!(
        b.deliver(
            "customer.created",
            t + 6,
            &[("CUSTOMER", "cus_u"), ("ORG", "acme")]
        ),
        "ignored"
    );
    let audit = b.audit();
    let find = |o: &str| {
        audit
            .iter()
            .find(|(_, d)| d["outcome"] == o)
            .unwrap_or_else(|| panic!("{o}: {audit:?}"))
    };
    assert_eq!(find("unknown_price").0.as_deref(), Some("acme"));
    assert_eq!(
        find("unknown_price").1["prices"][0]["price"],
        "price_nobody_mapped"
    );
    assert_eq!(
        find("unknown_org").0,
        None,
        "nothing recorded under an org that does not exist"
    );
    assert_eq!(find("unknown_org").1["org_id"], "ghost");
    assert_eq!(find("org_conflict").0, None);
    assert_eq!(find("ignored").1["type"], "customer.created");
}

/// With `STRIPE_SECRET_KEY`, the subscription is re-read from the API (a local stub here) and
/// its current state applies; a failed read answers 503 so Stripe retries, and the retry applies.
#[test]
fn with_a_secret_key_the_subscription_is_re_read_from_the_api() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let mut fail_first = true;
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 4096];
            let n = conn.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).to_string();
            log.lock().unwrap().push(request.clone());
            let authorized = request
                .lines()
                .any(|l| l.eq_ignore_ascii_case("authorization: Bearer sk_test_tollgate"));
            let (status, body) = if !authorized {
                ("401 Unauthorized", "{}".to_string())
            } else if fail_first {
                fail_first = false;
                ("500 Internal Server Error", "{}".to_string())
            } else {
                let sub = json!({"id": "sub_api", "object": "subscription", "status": "active",
                    "customer": "cus_api", "metadata": {"org_id": "acme"},
                    "items": {"object": "list", "data": [{"current_period_end": 1893456000,
                        "price": {"id": "price_pro", "lookup_key": null}}]}});
                ("200 OK", sub.to_string())
            };
            let _ = write!(conn, "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        }
    });
    let Some(mut b) = Billing::start(&[
        ("STRIPE_SECRET_KEY", "sk_test_tollgate"),
        ("TOLLGATE_STRIPE_API_BASE", &base),
    ]) else {
        return;
    };
    b.setup_org("acme");
    // The event says canceled; Stripe's API says active now.
    let created = now() - 60;
    let body = event(
        "customer.subscription.updated.old-api",
        &[
            ("EVENT_ID", "evt_api"),
            ("CREATED", &created.to_string()),
            ("CUSTOMER", "cus_api"),
            ("SUBSCRIPTION", "sub_api"),
            ("ORG", "acme"),
            ("STATUS", "canceled"),
        ],
    );
    let a = b.send(&body);
    assert_eq!(a.status, 503, "{}", a.raw);
    assert_eq!(a.body["code"], "STRIPE_API_UNAVAILABLE");
    assert_eq!(
        stripe_events(&b.app),
        0,
        "not recorded: the retry applies it"
    );
    let a = b.send(&body);
    assert_eq!(a.status, 200, "{}", a.raw);
    assert_eq!(a.body["outcome"], "applied");
    assert_eq!(b.org("acme")["subscription_status"], "active");
    assert_eq!(b.project("acme"), "allow");
    // A state read from the API for an event older than the one applied changes nothing (two
    // processes may read at different times).
    let older = body
        .replace("evt_api", "evt_api_old")
        .replace(&format!("\"created\": {created}"), "\"created\": 1");
    let a = b.send(&older);
    assert_eq!(a.status, 200, "{}", a.raw);
    assert!(a.body["outcome"] == "stale", "{}", a.raw);
    // Nor does a subscription's `created` read from the API in the second already applied.
    let same_second = event(
        "customer.subscription.created",
        &[
            ("EVENT_ID", "evt_api_created"),
            ("CREATED", &created.to_string()),
            ("CUSTOMER", "cus_api"),
            ("SUBSCRIPTION", "sub_api"),
            ("STATUS", "incomplete"),
        ],
    );
    let a = b.send(&same_second);
    assert_eq!(a.body["outcome"], "stale", "{}", a.raw);
    let requests = seen.lock().unwrap();
    assert!(
        requests
            .iter()
            .all(|r| r.starts_with("GET /v1/subscriptions/sub_api ")),
        "{requests:?}"
    );
}

/// `examples/stripe-lifecycle.py` (stdlib Python, its own signing) replays the lifecycle against
/// the daemon and checks every decision it prints.
#[test]
fn the_lifecycle_example_runs_and_checks_its_decisions() {
    let Ok(python) = which_python() else {
        assert!(std::env::var_os("CI").is_none(), "python3 is needed");
        eprintln!("skipped: no python3");
        return;
    };
    let app = TestApp::spawn_with(
        &[],
        &[
            ("STRIPE_WEBHOOK_SECRET", SECRET),
            ("TOLLGATE_STRIPE_PRICES", "price_professional=professional"),
        ],
    );
    let out = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/stripe-lifecycle.py"))
        .args([
            "--url",
            &app.base,
            "--secret",
            SECRET,
            "--admin-token",
            crate::helpers::ADMIN,
            "--check",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("all decisions as expected"), "{stdout}");
}

fn which_python() -> Result<String, ()> {
    for p in ["python3", "/usr/bin/python3"] {
        if Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return Ok(p.to_string());
        }
    }
    Err(())
}
