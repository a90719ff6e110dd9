//! `POST /webhooks/stripe`: a Stripe event, verified on its raw bytes before anything parses
//! it, applied in one store write (with its audit entry) on the blocking pool, and answered
//! 2xx only after that write committed; any failure is a 4xx/5xx, so Stripe delivers again.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::billing::{self, Event, StripeSettings};
use crate::error::{Code, Error};
use crate::http::body::read_bytes;
use crate::http::error::HttpResult as Result;
use crate::http::openapi as doc;
use crate::http::wire::schema::ErrorBody;
use crate::http::AppState;
use crate::store::now_unix;

/// The largest event body read (Stripe's events are a few KiB; an expanded one tens).
const MAX_EVENT_BYTES: usize = 1 << 20;

/// The webhook's settings, and the lock that makes this process re-read and apply one event
/// at a time (two deliveries racing must not apply an older API read over a newer one).
pub struct StripeState {
    settings: StripeSettings,
    serial: parking_lot::Mutex<()>,
}

impl StripeState {
    /// The webhook as configured.
    pub fn new(settings: StripeSettings) -> StripeState {
        StripeState {
            settings,
            serial: parking_lot::Mutex::new(()),
        }
    }
}

/// What the webhook answers.
#[derive(Serialize, ToSchema)]
#[schema(as = StripeAnswer)]
pub(in crate::http) struct StripeAnswer {
    /// Always true: the event is durable (or was already).
    received: bool,
    /// The event id.
    id: String,
    /// What it did: `applied`, `linked`, `no_change`, `duplicate` (seen before: nothing
    /// changed), `ignored` (a type Tollgate does not read), `stale` (older than the state
    /// applied), `pending` (its customer is not linked to an org yet: kept, applied when the
    /// link arrives), `unknown_price`, `unknown_plan`, `unknown_org`, `unknown_status`,
    /// `unknown_subscription`, `org_conflict`, `no_org`, `no_subscription`. All but
    /// `duplicate` are in the audit trail.
    #[schema(example = "applied")]
    outcome: String,
    /// The org it was for, when one was found.
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    org: Option<String>,
}

/// Receives one Stripe event.
#[utoipa::path(
    post,
    path = "/webhooks/stripe",
    tag = "Billing",
    operation_id = "stripeWebhook",
    summary = "Receive a Stripe event",
    description = "Authenticated by `Stripe-Signature` (`t=<unix>,v1=<hex>[,v1=...]`: \
                   HMAC-SHA256 over `<t>.<raw body>` with any configured \
                   `STRIPE_WEBHOOK_SECRET`, compared in constant time; `t` within \
                   `TOLLGATE_STRIPE_TOLERANCE` seconds, default 300, either way), not by a \
                   token. Each event id applies at most once; per subscription an event older \
                   (by `created`) than the last applied changes nothing. 200 only after the \
                   change and its audit entry committed.",
    request_body(content = Object, content_type = "application/json",
                 description = "A Stripe event object, as Stripe sends it."),
    params(
        ("Stripe-Signature" = String, Header, description = "Stripe's signature header."),
    ),
    responses(
        (status = 200, description = "Received; `outcome` says what it did.", body = StripeAnswer),
        (status = 400, description = "INVALID_SIGNATURE (missing, malformed or matching no \
                                      secret), TIMESTAMP_OUT_OF_TOLERANCE, MALFORMED_EVENT (a \
                                      signed body that is not an event); nothing changed.",
         body = ErrorBody),
        (status = 405, response = doc::MethodNotAllowed),
        (status = 413, response = doc::PayloadTooLarge),
        (status = 500, response = doc::Internal),
        (status = 503, description = "STRIPE_NOT_CONFIGURED (no webhook secret: no event is \
                                      accepted), STRIPE_API_UNAVAILABLE (the subscription \
                                      re-read failed), STORE_UNAVAILABLE; nothing changed, \
                                      Stripe retries.", body = ErrorBody),
    )
)]
pub(in crate::http) async fn webhook(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse> {
    let stripe = state.stripe.clone();
    if stripe.settings.secrets.is_empty() {
        return Err(Error::new(
            Code::StripeNotConfigured,
            "no Stripe webhook secret is configured (STRIPE_WEBHOOK_SECRET); no event is \
             accepted unsigned",
        )
        .into());
    }
    let body = read_bytes(&req, body, MAX_EVENT_BYTES).await?;
    let header = req
        .headers()
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let engine = state.engine.clone();
    // Hashing a large body is not the worker's job: an unsigned flood must not slow decisions.
    let answer = web::block(move || receive(&engine, &stripe, header.as_deref(), &body))
        .await
        .map_err(|e| Error::Internal(format!("blocking pool: {e}")))??;
    if answer.outcome != "applied" && answer.outcome != "duplicate" {
        tracing::info!(event = %answer.id, outcome = %answer.outcome, "stripe event not applied");
    }
    Ok(HttpResponse::Ok().json(answer))
}

/// Verifies, parses and applies one event (on the blocking pool).
fn receive(
    engine: &crate::engine::Engine,
    stripe: &StripeState,
    header: Option<&str>,
    body: &[u8],
) -> crate::error::Result<StripeAnswer> {
    let settings = &stripe.settings;
    let now = now_unix();
    let signed_at = billing::verify(header, body, &settings.secrets, settings.tolerance, now)?;
    let event = Event::parse(body)?;
    // Stripe never dates an event after its signature: one from the future would make every
    // real event after it `stale`.
    if event.created > signed_at {
        return Err(Error::new(
            Code::MalformedEvent,
            "the event's `created` is later than its signature",
        ));
    }
    let answer = |a: billing::Applied| StripeAnswer {
        received: true,
        id: event.id.clone(),
        outcome: a.outcome.to_string(),
        org: a.org,
    };
    let _one_at_a_time = stripe.serial.lock();
    let store = engine.store();
    // A duplicate is answered before any API call; the write checks again.
    if store
        .read(|r| billing::BillingReads::event_outcome(r, &event.id))?
        .is_some()
    {
        return Ok(answer(billing::Applied {
            outcome: "duplicate",
            org: None,
        }));
    }
    let fetched = match (&settings.api, subscription_of(&event)) {
        (Some(api), Some(id)) => Some(api.subscription(&id)?),
        _ => None,
    };
    let model = engine.model();
    let template = engine.upgrade_template(&model);
    let ctx = engine.org_ctx(&model, &template, now_unix());
    let applied =
        store.write(|w| billing::apply(w, ctx, &settings.prices, &event, fetched.as_ref()))?;
    Ok(answer(applied))
}

/// The subscription an event is about, for the API re-read.
fn subscription_of(event: &Event) -> Option<String> {
    use billing::event::{Checkout, Invoice, Subscription};
    match event.kind.as_str() {
        "checkout.session.completed" => Checkout::read(&event.object).subscription,
        k if k.starts_with("customer.subscription.") => {
            Subscription::read(&event.object).map(|s| s.id)
        }
        "invoice.paid" | "invoice.payment_failed" => Invoice::read(&event.object).subscription,
        _ => None,
    }
}
