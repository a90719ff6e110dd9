//! What a plan pays for: the plan catalog (tiers, cumulative features, limits, built-in roles),
//! the tier a subscription status gives, limit checks for writes, and the 402 value.
//!
//! Plans own the vocabulary (tiers, features, limits) but not the decision: the engine asks
//! Cedar, and plans only say which tier an org effectively has and how to word a
//! payment-required answer. Stripe, which moves an org between plans, is `billing` (to come).

mod catalog;
mod limits;
mod payment;
mod status;

pub use catalog::{is_resource_type, Catalog, CatalogError, RoleDef, Tier, DEFAULT_CATALOG};
pub use limits::check_limits;
pub use payment::{upgrade_url, CurrentUsage, Payment, PaymentCode, URL_ID_ESCAPED};
pub use status::{effective_plan, SubscriptionStatus};

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
