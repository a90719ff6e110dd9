//! The served OpenAPI document against the route table and the error table: every route and
//! method the daemon serves is documented (and nothing else), each documented operation
//! declares its 405, and every error code is in the error body's `code` enum.

use serde_json::Value;
use tollgate::error::Code;
use tollgate::http::ROUTES;

use crate::helpers::TestApp;

const METHODS: [&str; 7] = ["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"];

fn document(app: &TestApp) -> Value {
    let o = app.call("GET", "/openapi.json", None, None);
    assert_eq!(o.status, 200, "{}", o.raw);
    assert!(
        o.content_type.starts_with("application/json"),
        "{}",
        o.content_type
    );
    assert!(o.body.is_object(), "the document is JSON: {}", o.raw);
    o.body
}

/// A concrete path for a route pattern: every `{param}` becomes `x`.
fn concrete(openapi_path: &str) -> String {
    openapi_path
        .split('/')
        .map(|seg| if seg.starts_with('{') { "x" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn the_document_lists_every_served_route_and_method_and_nothing_else() {
    let app = TestApp::spawn();
    let doc = document(&app);
    let paths = doc["paths"].as_object().unwrap();
    let mut served = 0;
    for r in ROUTES {
        let path = r.openapi_path();
        let item = paths
            .get(&path)
            .unwrap_or_else(|| panic!("{} is served but not documented", r.path));
        for m in r.methods {
            let op = &item[m.to_lowercase()];
            assert!(op.is_object(), "{m} {path} is served but not documented");
            assert!(
                op["responses"]["405"].is_object(),
                "{m} {path} does not declare its 405"
            );
            served += 1;
        }
        // The table is what the daemon serves: its methods reach a handler, any other is a
        // 405 whose `Allow` is the table's.
        let url = concrete(&path);
        for m in METHODS {
            let a = app.call(m, &url, None, None);
            if r.methods.contains(&m) {
                // A 404 of the handler (an unknown reservation) is not the router's.
                assert!(
                    a.status != 405 && a.body["message"] != "no such endpoint",
                    "{m} {url} is in the table but answered {}: {}",
                    a.status,
                    a.raw
                );
            } else {
                assert_eq!(a.status, 405, "{m} {url}: {}", a.raw);
                assert_eq!(a.allow.as_deref(), Some(r.allow().as_str()), "{m} {url}");
            }
        }
    }
    let documented: usize = paths
        .values()
        .map(|item| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| METHODS.iter().any(|m| m.eq_ignore_ascii_case(k)))
                .count()
        })
        .sum();
    assert_eq!(
        documented, served,
        "the document lists an operation the route table does not serve"
    );
}

#[test]
fn the_document_lists_every_error_code() {
    let app = TestApp::spawn();
    let doc = document(&app);
    let codes: Vec<&str> = doc["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("the error body's `code` is an enum: {doc}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for c in Code::ALL {
        assert!(
            codes.contains(&c.name()),
            "{} is not in the document",
            c.name()
        );
    }
    assert_eq!(
        codes.len(),
        Code::ALL.len(),
        "the enum holds only the table's codes"
    );
    // Every error answer names the error body (or, for a 402, the payment object).
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, r) in op["responses"].as_object().unwrap() {
                if !status.starts_with('4') && !status.starts_with('5') {
                    continue;
                }
                let r = match r["$ref"].as_str() {
                    Some(name) => {
                        let name = name.trim_start_matches("#/components/responses/");
                        &doc["components"]["responses"][name]
                    }
                    None => r,
                };
                let schema = r["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .unwrap_or_default();
                let want = if status == "403" && path == "/v1/forward-auth" {
                    "#/components/schemas/ForwardRefusal"
                } else if status == "402" && !path.contains("authorize") {
                    "#/components/schemas/Payment"
                } else if status == "403" && path.starts_with("/v1/forward-auth") {
                    "#/components/schemas/Error"
                } else if status == "402" || status == "403" {
                    "#/components/schemas/DecisionAnswer"
                } else {
                    "#/components/schemas/Error"
                };
                assert_eq!(schema, want, "{method} {path} {status}");
            }
        }
    }
}
