//! Applying one verified event, inside the caller's write transaction: at most once per event
//! id; per subscription never older (by `created`) over newer; an event for a customer no org
//! is linked to yet kept and applied as soon as the link arrives; the org's plan and status
//! settled from its subscriptions through `org::upsert_org`, with one audit entry per event.
//!
//! Which org an event is for: the subscription's `metadata.org_id`, the subscription's own link
//! (made by its checkout or its first event) and its customer's link (made by a checkout or a
//! subscription event, never by an invoice) must agree where present, else `org_conflict` and
//! nothing changes. A customer belongs to one org, and a subscription to one customer.

use serde_json::{json, Map, Value};

use super::event::{Checkout, Event, Invoice, Subscription};
use super::rows::{BillingWrites, SubscriptionRow};
use super::PriceMap;
use crate::audit::{self, AuditAction, AuditRecord};
use crate::error::Result;
use crate::org::{upsert_org, Limits, OrgCtx, OrgUpdate};
use crate::plans::SubscriptionStatus;

/// The status a placeholder row carries: a subscription a checkout named, whose state has not
/// arrived yet. Not a Stripe status, so it never settles an org.
const LINKED_ONLY: &str = "linked";

/// What an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// `applied`, `linked`, `no_change`, `duplicate`, `ignored`, `stale`, `pending`,
    /// `unknown_price`, `unknown_plan`, `unknown_org`, `unknown_status`,
    /// `unknown_subscription`, `org_conflict`, `no_org`, `no_subscription`.
    pub outcome: &'static str,
    /// The org it was for, when one was found.
    pub org: Option<String>,
}

/// One event's effect, before it is recorded.
struct Step {
    outcome: &'static str,
    org: Option<String>,
    detail: Map<String, Value>,
    /// Customers this event linked to an org: their waiting events apply next.
    linked: Vec<String>,
}

impl Step {
    fn new() -> Step {
        Step {
            outcome: "applied",
            org: None,
            detail: Map::new(),
            linked: Vec::new(),
        }
    }

    fn end(mut self, outcome: &'static str) -> Result<Step> {
        self.outcome = outcome;
        Ok(self)
    }

    fn note(&mut self, key: &str, v: impl Into<Value>) {
        self.detail.insert(key.into(), v.into());
    }
}

/// Which org, if any, an event is for.
enum Resolved {
    Org(String),
    /// Not applied, and why (`pending`: kept under its customer until the link arrives).
    Stop(&'static str),
}

/// Finds the event's org; an event for a customer no org is linked to yet is kept.
fn resolve(
    w: &impl BillingWrites,
    event: &Event,
    customer: Option<&str>,
    subscription: Option<&str>,
    named: Option<&str>,
) -> Result<Resolved> {
    let row = match subscription {
        Some(s) => w.subscription(s)?,
        None => None,
    };
    // A subscription's customer never changes: an event that says otherwise is not trusted.
    if let (Some(r), Some(c)) = (&row, customer) {
        if r.customer.as_deref().is_some_and(|rc| rc != c) {
            return Ok(Resolved::Stop("org_conflict"));
        }
    }
    let by_customer = match customer {
        Some(c) => w.customer_org(c)?,
        None => None,
    };
    // Every source that names an org must name the same one: a customer belongs to one org,
    // and a subscription never moves.
    let known: Vec<String> = [named.map(str::to_string), row.map(|r| r.org), by_customer]
        .into_iter()
        .flatten()
        .collect();
    if known.windows(2).any(|p| p[0] != p[1]) {
        return Ok(Resolved::Stop("org_conflict"));
    }
    let Some(org) = known.into_iter().next() else {
        let Some(c) = customer else {
            return Ok(Resolved::Stop("no_org"));
        };
        w.put_pending(&event.id, c, event.created, &event.to_value().to_string())?;
        return Ok(Resolved::Stop("pending"));
    };
    if w.org(&org)?.is_none() {
        return Ok(Resolved::Stop("unknown_org"));
    }
    Ok(Resolved::Org(org))
}

/// Applies one event (and then the events its links release). A duplicate id changes
/// nothing.
pub fn apply(
    w: &impl BillingWrites,
    ctx: OrgCtx<'_>,
    prices: &PriceMap,
    event: &Event,
    fetched: Option<&Value>,
) -> Result<Applied> {
    if w.event_outcome(&event.id)?.is_some() {
        return Ok(Applied {
            outcome: "duplicate",
            org: None,
        });
    }
    let step = one(w, ctx, prices, event, fetched)?;
    let applied = Applied {
        outcome: step.outcome,
        org: step.org.clone(),
    };
    let mut linked = record(w, ctx, event, step)?;
    // Events that waited for a customer's org, in (created, arrival) order; applying one may
    // link another customer.
    while let Some(customer) = linked.pop() {
        for text in w.take_pending(&customer)? {
            let Ok(v) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let Ok(waiting) = Event::from_value(v) else {
                continue;
            };
            let step = one(w, ctx, prices, &waiting, None)?;
            linked.extend(record(w, ctx, &waiting, step)?);
        }
    }
    Ok(applied)
}

/// Records an event's outcome (its id, and its audit entry); returns the customers it linked.
fn record(
    w: &impl BillingWrites,
    ctx: OrgCtx<'_>,
    event: &Event,
    mut step: Step,
) -> Result<Vec<String>> {
    w.record_event(&event.id, &event.kind, event.created, ctx.now, step.outcome)?;
    step.note("event", event.id.as_str());
    step.note("type", event.kind.as_str());
    step.note("created", event.created);
    step.note("api_version", event.api_version.clone());
    step.note("outcome", step.outcome);
    audit::append(
        w,
        AuditRecord {
            org: step.org.as_deref(),
            action: AuditAction::StripeEvent,
            target: format!("StripeEvent::{:?}", event.id),
            detail: Value::Object(step.detail),
            at: ctx.now,
        },
    )?;
    Ok(step.linked)
}

fn one(
    w: &impl BillingWrites,
    ctx: OrgCtx<'_>,
    prices: &PriceMap,
    event: &Event,
    fetched: Option<&Value>,
) -> Result<Step> {
    let fresh = fetched.and_then(Subscription::read);
    match event.kind.as_str() {
        "checkout.session.completed" => {
            checkout(w, ctx, prices, event, &Checkout::read(&event.object), fresh)
        }
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "customer.subscription.paused"
        | "customer.subscription.resumed" => {
            let is_fresh = fresh.is_some();
            match fresh.or_else(|| Subscription::read(&event.object)) {
                Some(s) => subscription(w, ctx, prices, event, &s, is_fresh),
                None => Step::new().end("malformed_object"),
            }
        }
        "invoice.paid" | "invoice.payment_failed" => match fresh {
            Some(s) => subscription(w, ctx, prices, event, &s, true),
            None => invoice(w, ctx, event, &Invoice::read(&event.object)),
        },
        _ => Step::new().end("ignored"),
    }
}

fn checkout(
    w: &impl BillingWrites,
    ctx: OrgCtx<'_>,
    prices: &PriceMap,
    event: &Event,
    c: &Checkout,
    fresh: Option<Subscription>,
) -> Result<Step> {
    let mut step = Step::new();
    step.note("customer", c.customer.clone());
    step.note("subscription", c.subscription.clone());
    let org = match (&c.client_reference, &c.metadata_org) {
        (Some(a), Some(b)) if a != b => return step.end("org_conflict"),
        (a, b) => a.clone().or_else(|| b.clone()),
    };
    let Some(org) = org else {
        return step.end("no_org");
    };
    step.note("org_id", org.as_str());
    if w.org(&org)?.is_none() {
        return step.end("unknown_org");
    }
    // Every conflict is found before anything is written: a refused checkout links nothing.
    let customer_org = match &c.customer {
        Some(cus) => w.customer_org(cus)?,
        None => None,
    };
    if customer_org.as_ref().is_some_and(|o| *o != org) {
        return step.end("org_conflict");
    }
    let sub_row = match &c.subscription {
        Some(sub) => w.subscription(sub)?,
        None => None,
    };
    if let Some(r) = &sub_row {
        let other_customer = matches!((&r.customer, &c.customer), (Some(a), Some(b)) if a != b);
        if r.org != org || other_customer {
            return step.end("org_conflict");
        }
    }
    if let (Some(cus), None) = (&c.customer, customer_org) {
        w.link_customer(cus, &org)?;
        step.linked.push(cus.clone());
    }
    if let (Some(sub), None) = (&c.subscription, sub_row) {
        w.put_subscription(&SubscriptionRow {
            id: sub.clone(),
            org: org.clone(),
            customer: c.customer.clone(),
            status: LINKED_ONLY.into(),
            plan: None,
            past_due_since: None,
            last_created: i64::MIN,
            last_event: event.id.clone(),
        })?;
    }
    step.org = Some(org);
    // The subscription itself, when the session carries it or the API was asked for it.
    let state = fresh
        .map(|s| (s, true))
        .or_else(|| c.expanded.clone().map(|s| (s, false)));
    if let Some((s, is_fresh)) = state {
        let mut inner = subscription(w, ctx, prices, event, &s, is_fresh)?;
        step.linked.append(&mut inner.linked);
        step.note("subscription_outcome", inner.outcome);
        step.detail.extend(inner.detail);
    }
    step.end("linked")
}

/// The plan a subscription's items give: the highest catalog tier among the mapped prices.
/// `Err` when a mapped plan is not in the catalog.
fn plan_of(
    prices: &PriceMap,
    ctx: OrgCtx<'_>,
    s: &Subscription,
) -> std::result::Result<Option<String>, &'static str> {
    let mut best: Option<(usize, String)> = None;
    for item in &s.items {
        let Some(plan) = prices.plan(item.price.as_deref(), item.lookup_key.as_deref()) else {
            continue;
        };
        let Some(rank) = ctx.catalog.tiers().iter().position(|t| t.name == plan) else {
            return Err("unknown_plan");
        };
        if best.as_ref().is_none_or(|(r, _)| rank > *r) {
            best = Some((rank, plan.to_string()));
        }
    }
    Ok(best.map(|(_, p)| p))
}

fn grants(status: SubscriptionStatus) -> bool {
    matches!(
        status,
        SubscriptionStatus::Active | SubscriptionStatus::Trialing | SubscriptionStatus::PastDue
    )
}

fn subscription(
    w: &impl BillingWrites,
    ctx: OrgCtx<'_>,
    prices: &PriceMap,
    event: &Event,
    s: &Subscription,
    fresh: bool,
) -> Result<Step> {
    let mut step = Step::new();
    step.note("subscription", s.id.as_str());
    step.note("customer", s.customer.clone());
    step.note("status", s.status.as_str());
    step.note("period_end", s.period_end);
    step.note("fetched", fresh);
    let prices_seen: Vec<Value> = s
        .items
        .iter()
        .map(|i| json!({"price": i.price, "lookup_key": i.lookup_key}))
        .collect();
    step.note("prices", prices_seen);
    let org = match resolve(
        w,
        event,
        s.customer.as_deref(),
        Some(&s.id),
        s.org.as_deref(),
    )? {
        Resolved::Org(o) => o,
        Resolved::Stop(why) => {
            step.note("org_id", s.org.clone());
            return step.end(why);
        }
    };
    step.org = Some(org.clone());
    if let Some(c) = &s.customer {
        if w.customer_org(c)?.is_none() {
            w.link_customer(c, &org)?;
            step.linked.push(c.clone());
        }
    }
    let row = w.subscription(&s.id)?;
    let last = row.as_ref().map_or(i64::MIN, |r| r.last_created);
    // An older event never overwrites a newer state, a state read from the API included (two
    // processes may have read it at different times).
    if event.created < last {
        return step.end("stale");
    }
    let Some(mut status) = SubscriptionStatus::parse(&s.status) else {
        return step.end("unknown_status");
    };
    // The same second applies in arrival order, but never backwards: a subscription's
    // `created` event, or its first `incomplete` state, is older than any state applied in
    // its second (Stripe sends a checkout's events together, in no guaranteed order).
    let applied_before = row
        .as_ref()
        .is_some_and(|r| r.status != LINKED_ONLY && r.last_created == event.created);
    // A state read from the API too: another process may have read it before this one.
    if applied_before
        && (event.kind == "customer.subscription.created"
            || (status == SubscriptionStatus::Incomplete
                && row.as_ref().is_some_and(|r| r.status != status.as_str())))
    {
        return step.end("stale");
    }
    if event.kind == "customer.subscription.deleted"
        && !matches!(
            status,
            SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired
        )
    {
        status = SubscriptionStatus::Canceled;
    }
    let known = row.as_ref().and_then(|r| r.plan.clone());
    let plan = match plan_of(prices, ctx, s) {
        Ok(Some(p)) => Some(p),
        // An unknown price never grants a plan; a status that gives the first tier applies
        // anyway (a cancellation must not wait for a price map).
        Ok(None) if grants(status) => return step.end("unknown_price"),
        Err(why) if grants(status) => return step.end(why),
        Ok(None) | Err(_) => known,
    };
    let past_due_since = (status == SubscriptionStatus::PastDue).then(|| {
        row.as_ref()
            .filter(|r| r.status == SubscriptionStatus::PastDue.as_str())
            .and_then(|r| r.past_due_since)
            .unwrap_or(event.created)
    });
    w.put_subscription(&SubscriptionRow {
        id: s.id.clone(),
        org: org.clone(),
        customer: s.customer.clone(),
        status: status.as_str().into(),
        plan: plan.clone(),
        past_due_since,
        last_created: last.max(event.created),
        last_event: event.id.clone(),
    })?;
    step.note("plan", plan);
    settle(w, ctx, &org, &mut step)?;
    Ok(step)
}

fn invoice(w: &impl BillingWrites, ctx: OrgCtx<'_>, event: &Event, inv: &Invoice) -> Result<Step> {
    let mut step = Step::new();
    step.note("customer", inv.customer.clone());
    step.note("subscription", inv.subscription.clone());
    let Some(sub) = inv.subscription.as_deref() else {
        return step.end("no_subscription");
    };
    let org = match resolve(
        w,
        event,
        inv.customer.as_deref(),
        Some(sub),
        inv.org.as_deref(),
    )? {
        Resolved::Org(o) => o,
        Resolved::Stop(why) => return step.end(why),
    };
    // An invoice links no customer: only a checkout or the subscription itself does.
    step.org = Some(org.clone());
    let Some(row) = w.subscription(sub)?.filter(|r| r.status != LINKED_ONLY) else {
        // The subscription's own state has not arrived; it will, and it carries the status.
        return step.end("unknown_subscription");
    };
    if event.created < row.last_created {
        return step.end("stale");
    }
    let status = SubscriptionStatus::parse(&row.status).unwrap_or(SubscriptionStatus::Canceled);
    use SubscriptionStatus as S;
    let (next, since) = match (event.kind.as_str(), status) {
        // A paid invoice settles what payment held back.
        ("invoice.paid", S::PastDue | S::Unpaid | S::Incomplete) => (S::Active, None),
        // A failed renewal starts the grace period, counted from this event.
        ("invoice.payment_failed", S::Active | S::Trialing) => (S::PastDue, Some(event.created)),
        _ => (status, row.past_due_since),
    };
    step.note("status", next.as_str());
    let changed = next != status;
    w.put_subscription(&SubscriptionRow {
        status: next.as_str().into(),
        past_due_since: since,
        last_created: row.last_created.max(event.created),
        last_event: event.id.clone(),
        ..row
    })?;
    if !changed {
        return step.end("no_change");
    }
    settle(w, ctx, &org, &mut step)?;
    Ok(step)
}

/// Sets the org's plan and status from its subscriptions: the one that grants most (active or
/// trialing, then past due; the higher tier; the later event) governs. Writes only a change.
fn settle(w: &impl BillingWrites, ctx: OrgCtx<'_>, org: &str, step: &mut Step) -> Result<()> {
    let tier_rank = |plan: &Option<String>| {
        plan.as_ref()
            .and_then(|p| ctx.catalog.tiers().iter().position(|t| &t.name == p))
    };
    let governing = w
        .subscriptions_of(org)?
        .into_iter()
        .filter_map(|r| SubscriptionStatus::parse(&r.status).map(|s| (s, r)))
        .max_by_key(|(s, r)| {
            let class = match s {
                SubscriptionStatus::Active | SubscriptionStatus::Trialing => 2,
                SubscriptionStatus::PastDue => 1,
                _ => 0,
            };
            (class, tier_rank(&r.plan), r.last_created)
        });
    let Some((status, row)) = governing else {
        return Ok(());
    };
    let Some(before) = w.org(org)? else {
        return Ok(());
    };
    let plan = row
        .plan
        .filter(|p| ctx.catalog.tier(p).is_some())
        .unwrap_or_else(|| before.plan.clone());
    let since = (status == SubscriptionStatus::PastDue)
        .then_some(row.past_due_since)
        .flatten();
    step.note(
        "org_before",
        json!({"plan": before.plan, "subscription_status": before.status}),
    );
    step.note(
        "org_after",
        json!({"plan": plan, "subscription_status": status.as_str()}),
    );
    if before.plan == plan && before.status == status.as_str() && before.past_due_since == since {
        step.outcome = "no_change";
        return Ok(());
    }
    upsert_org(
        w,
        ctx,
        org,
        OrgUpdate {
            plan: Some(plan),
            subscription_status: Some(status.as_str().into()),
            primary_owner: None,
            past_due_since: since,
        },
        Limits::Override,
    )?;
    Ok(())
}
