//! The 402 worded: which gate blocks (the role's seat bucket before `seat:total`), the usage
//! against its limit, and `required_plan`, the first tier under which the same request, on the
//! same data, is allowed.

use cedar_policy::{Authorizer, Decision as CedarDecision};

use super::judge::Case;
use crate::error::Result;
use crate::model::Gate;
use crate::plans::{self, CurrentUsage, Payment, PaymentCode};

impl Case<'_> {
    /// Words the 402: which gate, which usage, and the first tier that would allow.
    pub(super) fn payment(&self, gates: &[&Gate]) -> Result<Payment> {
        let Case {
            model,
            slice,
            template,
            ..
        } = *self;
        let mut limits: Vec<&str> = gates
            .iter()
            .filter_map(|g| match g {
                Gate::Limit(rt) => Some(rt.as_str()),
                Gate::Feature(_) => None,
            })
            .collect();
        // The role's own bucket before the overall seat count, then file order.
        limits.sort_by_key(|rt| *rt == "seat:total");
        let feature = gates.iter().find_map(|g| match g {
            Gate::Feature(f) => Some(f.as_str()),
            Gate::Limit(_) => None,
        });
        let (code, usage) = match (limits.first(), &slice.org) {
            (Some(rt), Some(org)) => {
                let tier = model.catalog.tier(&org.effective_plan);
                let usage = CurrentUsage {
                    resource_type: (*rt).to_string(),
                    current: org.usage.get(*rt).copied().unwrap_or(0),
                    limit: tier.and_then(|t| t.limit(rt)).unwrap_or(0),
                };
                (PaymentCode::PlanLimitReached, Some(usage))
            }
            (Some(_), None) => (PaymentCode::PlanLimitReached, None),
            (None, _) => (PaymentCode::FeatureNotInPlan, None),
        };
        let required = self.lowest_tier_allowing(|_| true)?;
        let org_id = slice.org.as_ref().map(|o| o.row.id.as_str()).unwrap_or("");
        let url = plans::upgrade_url(template, org_id, required.as_deref());
        Ok(Payment::new(code, feature, required, url, usage))
    }

    /// The first catalog tier (among those `eligible`) under which the request, same data, is
    /// allowed without errors: the request's `required_plan`. Only the org, its plan and the
    /// standing of custom-role members change between tiers (`Slice::with_tier`).
    pub(super) fn lowest_tier_allowing(
        &self,
        eligible: impl Fn(&str) -> bool,
    ) -> Result<Option<String>> {
        let Case {
            model,
            am,
            request,
            slice,
            entities,
            ..
        } = *self;
        if slice.org.is_none() {
            return Ok(None);
        }
        let authorizer = Authorizer::new();
        for tier in model.catalog.tiers() {
            if !eligible(&tier.name) {
                continue;
            }
            let entities = slice.with_tier(model, entities, &tier.name)?;
            let r = authorizer.is_authorized(request, &am.policies, &entities);
            if r.decision() == CedarDecision::Allow && r.diagnostics().errors().next().is_none() {
                return Ok(Some(tier.name.clone()));
            }
        }
        Ok(None)
    }
}
