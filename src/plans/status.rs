//! Subscription status as Stripe names it, and the tier a status actually gives an org.

use super::{Catalog, Tier};

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
    /// Every status, in Stripe's order (for the OpenAPI document).
    pub const ALL: &'static [SubscriptionStatus] = &[
        Self::Active,
        Self::Trialing,
        Self::PastDue,
        Self::Canceled,
        Self::Unpaid,
        Self::Incomplete,
        Self::IncompleteExpired,
        Self::Paused,
    ];

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

#[cfg(test)]
mod tests {
    use super::SubscriptionStatus;

    #[test]
    fn every_status_round_trips_its_name() {
        for s in SubscriptionStatus::ALL {
            assert_eq!(SubscriptionStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(SubscriptionStatus::ALL.len(), 8);
    }
}
