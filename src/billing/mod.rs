//! What the plan pays for: the plan catalog, subscription status rules and the 402 body.
//!
//! Billing owns the vocabulary of plans (tiers, features, limits) but not the decision: the
//! engine asks Cedar, and billing only says which tier an org effectively has and how to word a
//! payment-required answer. Stripe webhooks will land here too.

mod catalog;

pub use catalog::{is_resource_type, Catalog, RoleDef, Tier, DEFAULT_CATALOG};

use serde::Serialize;

/// A subscription status as Stripe names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionStatus {
    /// Paid and current.
    Active,
    /// In a trial: the plan applies.
    Trialing,
    /// A payment failed: the plan applies for a grace period.
    PastDue,
    /// Ended: the org falls back to the first tier.
    Canceled,
    /// Unpaid after retries: first tier.
    Unpaid,
    /// First payment never completed: first tier.
    Incomplete,
    /// First payment window expired: first tier.
    IncompleteExpired,
    /// Paused by the merchant: first tier.
    Paused,
}

impl SubscriptionStatus {
    /// Parses Stripe's snake_case name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => Self::Active,
            "trialing" => Self::Trialing,
            "past_due" => Self::PastDue,
            "canceled" => Self::Canceled,
            "unpaid" => Self::Unpaid,
            "incomplete" => Self::Incomplete,
            "incomplete_expired" => Self::IncompleteExpired,
            "paused" => Self::Paused,
            _ => return None,
        })
    }

    /// Stripe's name for the status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Trialing => "trialing",
            Self::PastDue => "past_due",
            Self::Canceled => "canceled",
            Self::Unpaid => "unpaid",
            Self::Incomplete => "incomplete",
            Self::IncompleteExpired => "incomplete_expired",
            Self::Paused => "paused",
        }
    }
}

/// The tier an org's subscription actually gives it right now.
///
/// `active` and `trialing` give the nominal plan; `past_due` keeps it for `grace_secs` after
/// `past_due_since`; anything else gives the catalog's first tier. An unknown nominal plan also
/// falls back to the first tier: a typo in billing data must not open paid features.
pub fn effective_plan<'a>(
    catalog: &'a Catalog,
    nominal: &str,
    status: SubscriptionStatus,
    past_due_since: Option<i64>,
    now: i64,
    grace_secs: i64,
) -> &'a Tier {
    let keeps_plan = match status {
        SubscriptionStatus::Active | SubscriptionStatus::Trialing => true,
        // Without the date the grace period cannot be shown to still run: fail closed.
        SubscriptionStatus::PastDue => {
            past_due_since.is_some_and(|since| now < since.saturating_add(grace_secs))
        }
        _ => false,
    };
    let fallback = catalog.first_tier();
    if keeps_plan {
        catalog.tier(nominal).unwrap_or(fallback)
    } else {
        fallback
    }
}

/// Why a 402 was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentCode {
    /// A feature the plan lacks.
    FeatureNotInPlan,
    /// A seat or quota limit is reached.
    PlanLimitReached,
}

/// One resource type's use against its limit, as shown in a 402.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurrentUsage {
    /// e.g. `seat:admin`.
    pub resource_type: String,
    /// Units in use now.
    pub current: i64,
    /// The plan's limit (a 402 only names limited types).
    pub limit: i64,
}

/// The body of a payment-required answer: in a decision's `payment` field, or the whole body
/// of a 402 from a write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payment {
    /// Always `payment_required`.
    pub error: &'static str,
    /// Human sentence.
    pub message: String,
    /// Machine-readable reason.
    pub code: PaymentCode,
    /// Lowest catalog tier that would allow the same request; `None` when none would.
    pub required_plan: Option<String>,
    /// Where to upgrade, from the configured template.
    pub upgrade_url: String,
    /// The limit that blocked, when a limit blocked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_usage: Option<CurrentUsage>,
}

impl Payment {
    /// Builds a 402 body, wording the message from what blocked.
    pub fn new(
        code: PaymentCode,
        feature: Option<&str>,
        required_plan: Option<String>,
        upgrade_url: String,
        current_usage: Option<CurrentUsage>,
    ) -> Self {
        let what = match (&current_usage, feature) {
            (Some(u), _) => format!(
                "the plan's limit for `{}` is reached ({} of {})",
                u.resource_type, u.current, u.limit
            ),
            (None, Some(f)) => format!("the plan does not include the feature `{f}`"),
            (None, None) => "the plan does not allow this".to_string(),
        };
        let message = match &required_plan {
            Some(p) => format!("{what}; upgrade to `{p}` to continue"),
            None => format!("{what}; no plan in the catalog allows it"),
        };
        Payment {
            error: "payment_required",
            message,
            code,
            required_plan,
            upgrade_url,
            current_usage,
        }
    }
}

/// Fills the upgrade URL template's `{org}` and `{plan}` placeholders.
pub fn upgrade_url(template: &str, org: &str, plan: Option<&str>) -> String {
    template
        .replace("{org}", &percent_encode(org))
        .replace("{plan}", &percent_encode(plan.unwrap_or("")))
}

/// Minimal RFC 3986 unreserved-set encoding, enough for ids placed in a URL.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Checks a write that adds `deltas` (resource type, units) against `tier`'s limits.
///
/// Returns the 402 body when a positive delta would pass a limit: `current_usage` names the
/// first blocking type in `deltas` order (callers list the role's bucket before `seat:total`),
/// and `required_plan` is the first catalog tier under which every delta fits.
pub fn check_limits(
    catalog: &Catalog,
    tier: &Tier,
    usage: &std::collections::BTreeMap<String, i64>,
    deltas: &[(&str, i64)],
    org: &str,
    upgrade_template: &str,
) -> Option<Payment> {
    let fits = |t: &Tier, rt: &str, delta: i64| {
        delta <= 0
            || match t.limit(rt) {
                None => true,
                Some(limit) => usage.get(rt).copied().unwrap_or(0).saturating_add(delta) <= limit,
            }
    };
    let (blocked, _) = deltas.iter().find(|(rt, d)| !fits(tier, rt, *d))?;
    let required = catalog
        .tiers()
        .iter()
        .find(|t| deltas.iter().all(|(rt, d)| fits(t, rt, *d)))
        .map(|t| t.name.clone());
    let usage_now = CurrentUsage {
        resource_type: (*blocked).to_string(),
        current: usage.get(*blocked).copied().unwrap_or(0),
        limit: tier.limit(blocked).unwrap_or(0),
    };
    let url = upgrade_url(upgrade_template, org, required.as_deref());
    Some(Payment::new(
        PaymentCode::PlanLimitReached,
        None,
        required,
        url,
        Some(usage_now),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_due_keeps_plan_only_within_grace() {
        let c = Catalog::default_catalog().unwrap();
        let day = 86_400;
        let p = |since, now| {
            effective_plan(
                &c,
                "professional",
                SubscriptionStatus::PastDue,
                since,
                now,
                7 * day,
            )
            .name
            .clone()
        };
        assert_eq!(p(Some(0), 6 * day), "professional");
        assert_eq!(p(Some(0), 7 * day), "free");
        assert_eq!(
            p(None, 0),
            "free",
            "no date: the grace period is not assumed"
        );
    }

    #[test]
    fn canceled_and_unknown_plans_fall_back_to_first_tier() {
        let c = Catalog::default_catalog().unwrap();
        let e = effective_plan(&c, "enterprise", SubscriptionStatus::Canceled, None, 0, 0);
        assert_eq!(e.name, "free");
        let e = effective_plan(&c, "platinum", SubscriptionStatus::Active, None, 0, 0);
        assert_eq!(e.name, "free");
        let e = effective_plan(&c, "starter", SubscriptionStatus::Trialing, None, 0, 0);
        assert_eq!(e.name, "starter");
    }

    #[test]
    fn upgrade_url_encodes_placeholders() {
        assert_eq!(
            upgrade_url("https://x/up?o={org}&p={plan}", "a b/c", Some("pro")),
            "https://x/up?o=a%20b%2Fc&p=pro"
        );
    }
}
