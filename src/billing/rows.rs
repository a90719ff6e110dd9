//! The billing rows and the traits a store implements to run the billing rules over them: the
//! events seen, customer → org links, each subscription's last applied state, and the events
//! that wait for their customer's org.

use crate::error::Result;
use crate::org::OrgWrites;

/// A subscription's last applied state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRow {
    /// `sub_...`.
    pub id: String,
    /// The org it pays for.
    pub org: String,
    /// `cus_...`.
    pub customer: Option<String>,
    /// Stripe's status name.
    pub status: String,
    /// The plan its price gives, when known.
    pub plan: Option<String>,
    /// When it became `past_due` (the `created` of that event).
    pub past_due_since: Option<i64>,
    /// The `created` of the last event applied to it: an older one changes nothing.
    pub last_created: i64,
    /// That event's id.
    pub last_event: String,
}

/// What the billing rules read.
pub trait BillingReads {
    /// The outcome recorded for an event id, when it was seen.
    fn event_outcome(&self, id: &str) -> Result<Option<String>>;
    /// The org a customer is linked to.
    fn customer_org(&self, customer: &str) -> Result<Option<String>>;
    /// A subscription's last applied state.
    fn subscription(&self, id: &str) -> Result<Option<SubscriptionRow>>;
    /// Every subscription of an org.
    fn subscriptions_of(&self, org: &str) -> Result<Vec<SubscriptionRow>>;
}

/// What the billing rules write, in the write transaction of the org rules.
pub trait BillingWrites: BillingReads + OrgWrites {
    /// Records an event id and what it did (or updates it: a pending event applied later).
    fn record_event(
        &self,
        id: &str,
        kind: &str,
        created: i64,
        now: i64,
        outcome: &str,
    ) -> Result<()>;
    /// Links a customer to an org.
    fn link_customer(&self, customer: &str, org: &str) -> Result<()>;
    /// Inserts or replaces a subscription's state.
    fn put_subscription(&self, row: &SubscriptionRow) -> Result<()>;
    /// Keeps an event until its customer is linked.
    fn put_pending(&self, event_id: &str, customer: &str, created: i64, event: &str) -> Result<()>;
    /// Removes and returns a customer's waiting events, in (created, arrival) order.
    fn take_pending(&self, customer: &str) -> Result<Vec<String>>;
}
