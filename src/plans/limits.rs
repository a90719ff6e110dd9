//! Limit checks for writes: whether adding seats or quota units passes the tier's limits, and
//! the 402 a write answers when it does.

use std::collections::BTreeMap;

use super::{upgrade_url, Catalog, CurrentUsage, Payment, PaymentCode, Tier};

/// Checks a write that adds `deltas` (resource type, units) against `tier`'s limits.
///
/// Returns the 402 body when a positive delta would pass a limit: `current_usage` names the
/// first blocking type in `deltas` order (callers list the role's bucket before `seat:total`),
/// and `required_plan` is the first catalog tier under which every delta fits.
pub fn check_limits(
    catalog: &Catalog,
    tier: &Tier,
    usage: &BTreeMap<String, i64>,
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
