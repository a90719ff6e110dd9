//! A Stripe event as the webhook receives it, and the parts of its object Tollgate reads, in
//! both API shapes: since API version 2025-03-31 a subscription's billing period sits on its
//! items and an invoice names its subscription at `parent.subscription_details`; older
//! versions put them on the subscription and at `invoice.subscription`.

use serde_json::Value;

use crate::error::{Code, Error, Result};

/// A verified event.
#[derive(Debug, Clone)]
pub struct Event {
    /// `evt_...`: applied at most once.
    pub id: String,
    /// E.g. `customer.subscription.updated`.
    pub kind: String,
    /// When Stripe created it (unix seconds): the ordering clock.
    pub created: i64,
    /// The API version it was rendered with.
    pub api_version: Option<String>,
    /// `data.object`.
    pub object: Value,
}

impl Event {
    /// Parses a verified body. Not an event: 400 `MALFORMED_EVENT`.
    pub fn parse(body: &[u8]) -> Result<Event> {
        let bad = |m: &str| Error::new(Code::MalformedEvent, m.to_string());
        let v: Value =
            serde_json::from_slice(body).map_err(|_| bad("the event body is not JSON"))?;
        Event::from_value(v).map_err(|m| bad(&m))
    }

    /// An event from its JSON (a stored pending one too).
    pub fn from_value(mut v: Value) -> std::result::Result<Event, String> {
        let id = text(&v, &["id"]).ok_or("the event has no `id`")?;
        if id.is_empty() || id.len() > 255 {
            return Err("the event's `id` is empty or too long".into());
        }
        let kind = text(&v, &["type"]).ok_or("the event has no `type`")?;
        let created = v
            .get("created")
            .and_then(Value::as_i64)
            .ok_or("the event has no integer `created`")?;
        let api_version = text(&v, &["api_version"]);
        let object = v
            .get_mut("data")
            .and_then(|d| d.get_mut("object"))
            .filter(|o| o.is_object())
            .map(Value::take)
            .ok_or("the event has no `data.object`")?;
        Ok(Event {
            id,
            kind,
            created,
            api_version,
            object,
        })
    }

    /// The event as stored while it waits for its customer's org.
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "type": self.kind,
            "created": self.created,
            "api_version": self.api_version,
            "data": {"object": self.object},
        })
    }
}

/// A string at a path; an expanded object (`{"id": ...}`) counts as its id.
fn text(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    match cur {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        _ => None,
    }
}

/// The org a `metadata` object names (`org_id`).
fn metadata_org(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.get("org_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// One priced item of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// `price.id`.
    pub price: Option<String>,
    /// `price.lookup_key`.
    pub lookup_key: Option<String>,
}

/// What Tollgate reads of a subscription object.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// `sub_...`.
    pub id: String,
    /// `cus_...`.
    pub customer: Option<String>,
    /// Stripe's status name.
    pub status: String,
    /// `metadata.org_id`.
    pub org: Option<String>,
    /// Its priced items.
    pub items: Vec<Item>,
    /// The end of the current billing period: on the items (API 2025-03-31 and later) or on
    /// the subscription (before).
    pub period_end: Option<i64>,
}

impl Subscription {
    /// Reads a subscription object; `None` when it has no id or status.
    pub fn read(o: &Value) -> Option<Subscription> {
        let id = text(o, &["id"])?;
        let status = text(o, &["status"])?;
        let data = o
            .get("items")
            .and_then(|i| i.get("data"))
            .and_then(Value::as_array);
        let items: Vec<Item> = data
            .into_iter()
            .flatten()
            .map(|it| Item {
                price: text(it, &["price", "id"]).or_else(|| text(it, &["price"])),
                lookup_key: text(it, &["price", "lookup_key"]),
            })
            .collect();
        let item_end = data
            .into_iter()
            .flatten()
            .filter_map(|it| it.get("current_period_end").and_then(Value::as_i64))
            .max();
        let period_end = item_end.or_else(|| o.get("current_period_end").and_then(Value::as_i64));
        Some(Subscription {
            id,
            customer: text(o, &["customer"]),
            status,
            org: metadata_org(o, &["metadata"]),
            items,
            period_end,
        })
    }
}

/// What Tollgate reads of a completed checkout session.
#[derive(Debug, Clone)]
pub struct Checkout {
    /// `client_reference_id`.
    pub client_reference: Option<String>,
    /// `metadata.org_id`.
    pub metadata_org: Option<String>,
    /// `cus_...`.
    pub customer: Option<String>,
    /// `sub_...`, or the expanded subscription.
    pub subscription: Option<String>,
    /// The subscription itself, when the session carries it expanded.
    pub expanded: Option<Subscription>,
}

impl Checkout {
    /// Reads a checkout session object.
    pub fn read(o: &Value) -> Checkout {
        Checkout {
            client_reference: text(o, &["client_reference_id"]),
            metadata_org: metadata_org(o, &["metadata"]),
            customer: text(o, &["customer"]),
            subscription: text(o, &["subscription"]),
            expanded: o
                .get("subscription")
                .filter(|s| s.is_object())
                .and_then(Subscription::read),
        }
    }
}

/// What Tollgate reads of an invoice.
#[derive(Debug, Clone)]
pub struct Invoice {
    /// `cus_...`.
    pub customer: Option<String>,
    /// The subscription it bills: `parent.subscription_details.subscription` (API 2025-03-31
    /// and later) or `subscription` (before).
    pub subscription: Option<String>,
    /// The subscription's `metadata.org_id`, as the invoice copies it.
    pub org: Option<String>,
}

impl Invoice {
    /// Reads an invoice object.
    pub fn read(o: &Value) -> Invoice {
        Invoice {
            customer: text(o, &["customer"]),
            subscription: text(o, &["parent", "subscription_details", "subscription"])
                .or_else(|| text(o, &["subscription"])),
            org: metadata_org(o, &["parent", "subscription_details", "metadata"])
                .or_else(|| metadata_org(o, &["subscription_details", "metadata"])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_api_shapes_read_alike() {
        let old = json!({"id": "sub_1", "status": "active", "customer": "cus_1",
            "current_period_end": 200, "metadata": {"org_id": "acme"},
            "items": {"data": [{"price": {"id": "price_a", "lookup_key": null}}]}});
        let new = json!({"id": "sub_1", "status": "active", "customer": {"id": "cus_1"},
            "metadata": {"org_id": "acme"},
            "items": {"data": [{"current_period_end": 200, "price": {"id": "price_a", "lookup_key": "pro"}}]}});
        let (o, n) = (
            Subscription::read(&old).unwrap(),
            Subscription::read(&new).unwrap(),
        );
        assert_eq!((o.period_end, n.period_end), (Some(200), Some(200)));
        assert_eq!(o.customer.as_deref(), Some("cus_1"));
        assert_eq!(n.customer.as_deref(), Some("cus_1"));
        assert_eq!(n.items[0].lookup_key.as_deref(), Some("pro"));
        assert_eq!(o.org.as_deref(), Some("acme"));
        let inv_old = Invoice::read(&json!({"subscription": "sub_1", "customer": "cus_1"}));
        let inv_new = Invoice::read(
            &json!({"customer": "cus_1", "parent": {"type": "subscription_details",
            "subscription_details": {"subscription": "sub_1", "metadata": {"org_id": "acme"}}}}),
        );
        assert_eq!(inv_old.subscription.as_deref(), Some("sub_1"));
        assert_eq!(inv_new.subscription.as_deref(), Some("sub_1"));
        assert_eq!(inv_new.org.as_deref(), Some("acme"));
    }

    #[test]
    fn a_body_that_is_not_an_event_is_refused() {
        for body in [
            &b"[]"[..],
            b"{}",
            br#"{"id":"evt_1","type":"x","created":"1","data":{"object":{}}}"#,
            br#"{"id":"evt_1","type":"x","created":1,"data":{}}"#,
            b"nope",
        ] {
            assert_eq!(
                Event::parse(body).unwrap_err().code().name(),
                "MALFORMED_EVENT"
            );
        }
        let e = Event::parse(br#"{"id":"evt_1","type":"x","created":1,"data":{"object":{"a":1}}}"#)
            .unwrap();
        assert_eq!(
            Event::from_value(e.to_value()).unwrap().object,
            json!({"a": 1})
        );
    }
}
