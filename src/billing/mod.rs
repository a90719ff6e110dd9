//! Stripe billing: a signed webhook event moves an org's plan. Verifying the signature
//! ([`signature`]), reading the event in both API shapes ([`event`]), the price → plan map
//! ([`prices`]), the rules that apply an event at most once and never let an older one
//! overwrite a newer state ([`apply`]), over rows a store implements ([`rows`]), and the
//! optional re-read of a subscription from Stripe's API ([`api`]). Free of SQL and of HTTP
//! routing: `http::stripe` runs [`apply`] inside one store write.

pub mod api;
pub mod apply;
pub mod event;
pub mod prices;
pub mod rows;
pub mod signature;

pub use api::StripeApi;
pub use apply::{apply, Applied};
pub use event::Event;
pub use prices::PriceMap;
pub use rows::{BillingReads, BillingWrites, SubscriptionRow};
pub use signature::verify;

use secrecy::SecretString;

/// The default signature tolerance in seconds, both ways (Stripe's own default is 300 s).
pub const DEFAULT_TOLERANCE: u64 = 300;

/// How the webhook is configured.
#[derive(Debug, Clone, Default)]
pub struct StripeSettings {
    /// Webhook signing secrets (`STRIPE_WEBHOOK_SECRET`, comma-separated during a rotation);
    /// none: the endpoint answers 503 and accepts nothing.
    pub secrets: Vec<SecretString>,
    /// Seconds a signed timestamp may be from now, in the past or in the future.
    pub tolerance: u64,
    /// Price ids and lookup keys → plans.
    pub prices: PriceMap,
    /// Re-reading subscriptions from Stripe's API, when `STRIPE_SECRET_KEY` is set.
    pub api: Option<StripeApi>,
}
