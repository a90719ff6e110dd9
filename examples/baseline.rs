//! The HTTP floor for the load benchmark: a minimal actix-web server that parses the same
//! decision JSON as Tollgate and answers a fixed allow. Whatever Tollgate costs above this is
//! the decision itself.
//!
//!     cargo run --release --example baseline -- 127.0.0.1:18080

use actix_web::{web, App, HttpResponse, HttpServer};
use serde::Deserialize;

#[derive(Deserialize)]
#[allow(
    dead_code,
    reason = "parsed like a decision request, never read: the baseline only pays for the parse"
)]
struct Request {
    principal: serde_json::Value,
    action: serde_json::Value,
    resource: serde_json::Value,
    #[serde(default)]
    context: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[allow(
    dead_code,
    reason = "parsed like a decision request, never read: the baseline only pays for the parse"
)]
struct Batch {
    requests: Vec<Request>,
}

const ALLOW: &str = r#"{"decision":"allow","status":200,"reasons":["baseline"],"errors":[]}"#;

async fn authorize(body: web::Bytes) -> HttpResponse {
    match serde_json::from_slice::<Request>(&body) {
        Ok(_) => HttpResponse::Ok()
            .content_type("application/json")
            .body(ALLOW),
        Err(_) => HttpResponse::BadRequest().finish(),
    }
}

async fn batch(body: web::Bytes) -> HttpResponse {
    match serde_json::from_slice::<Batch>(&body) {
        Ok(b) => {
            let mut out = String::from(r#"{"results":["#);
            for i in 0..b.requests.len() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(ALLOW);
            }
            out.push_str("]}");
            HttpResponse::Ok()
                .content_type("application/json")
                .body(out)
        }
        Err(_) => HttpResponse::BadRequest().finish(),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18080".into());
    let workers = std::env::var("WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(1);
    println!("listening on http://{addr}");
    HttpServer::new(|| {
        App::new()
            .route("/v1/authorize", web::post().to(authorize))
            .route("/v1/authorize/batch", web::post().to(batch))
    })
    .workers(workers)
    .bind(addr)?
    .run()
    .await
}
