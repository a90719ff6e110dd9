//! Cedar's answer turned into allow, 403 or 402: a deny where only plan gates forbid and the
//! role side alone allows is a 402; a deny of a custom-role member whose plan lapsed, which
//! the role's own standing would permit, is a 402 `FEATURE_NOT_IN_PLAN`; anything else a 403.
//! Any evaluation error is a deny.

use cedar_policy::{Authorizer, Decision as CedarDecision, Entities, Request, Response};

use super::slice::{self, Slice};
use super::{Decision, Outcome};
use crate::error::Result;
use crate::model::{ActionModel, Gate, Model};
use crate::plans::{self, Payment, PaymentCode};

/// One request being judged: what every step of the judgement reads.
#[derive(Clone, Copy)]
pub(super) struct Case<'a> {
    /// The model the decision started with.
    pub model: &'a Model,
    /// The action's policies.
    pub am: &'a ActionModel,
    /// The Cedar request.
    pub request: &'a Request,
    /// The request's slice.
    pub slice: &'a Slice,
    /// The slice's entities under the org's effective tier.
    pub entities: &'a Entities,
    /// The upgrade URL template in force.
    pub template: &'a str,
}

impl Case<'_> {
    /// Evaluates a parsed request over its slice: Cedar's answer, then 403 versus 402.
    pub(super) fn judge(&self) -> Result<Decision> {
        let Case { model, slice, .. } = *self;
        let decision = self.as_paid_for()?;
        if decision.outcome == Outcome::Deny
            && decision.errors.is_empty()
            && slice.has_lapsed_roles(model)
        {
            if let Some(d) = self.lapsed()? {
                return Ok(d);
            }
        }
        Ok(decision)
    }

    /// A custom role whose plan feature lapsed acts as the lowest built-in role; what else the
    /// role grants answers 402 `FEATURE_NOT_IN_PLAN` (default-model.md, "When a feature
    /// lapses"): when the role side permits the request with the role's own standing, under
    /// the same plan, and no forbid but plan gates stands in the way. `required_plan` is the
    /// lowest tier with `custom_roles` under which the request is allowed. `None`: the 403
    /// stands.
    fn lapsed(&self) -> Result<Option<Decision>> {
        let Case {
            model,
            am,
            request,
            slice,
            entities,
            template,
        } = *self;
        let authorizer = Authorizer::new();
        let paid = slice.with_paid_roles(entities)?;
        let role = authorizer.is_authorized(request, &am.role_policies, &paid);
        let (reasons, role_errors) = explain(&role);
        if role.decision() != CedarDecision::Allow || !role_errors.is_empty() {
            return Ok(None);
        }
        let full = authorizer.is_authorized(request, &am.policies, &paid);
        let (blocking, errors) = explain(&full);
        let only_gates = blocking
            .iter()
            .all(|r| am.gates.contains_key(&cedar_policy::PolicyId::new(r)));
        if !errors.is_empty() || (full.decision() != CedarDecision::Allow && !only_gates) {
            return Ok(None);
        }
        let required = self.lowest_tier_allowing(|t| slice::custom_roles_paid(model, t))?;
        let org_id = slice.org.as_ref().map(|o| o.row.id.as_str()).unwrap_or("");
        let url = plans::upgrade_url(template, org_id, required.as_deref());
        Ok(Some(Decision {
            outcome: Outcome::PaymentRequired,
            reasons,
            errors: vec![],
            warnings: slice.warnings.clone(),
            payment: Some(Payment::new(
                PaymentCode::FeatureNotInPlan,
                Some(crate::org::CUSTOM_ROLES),
                required,
                url,
                None,
            )),
            org: None,
            reservation: None,
        }))
    }

    /// Cedar's answer under the standing the org's plan pays for, then 403 versus 402.
    fn as_paid_for(&self) -> Result<Decision> {
        let Case {
            am,
            request,
            slice,
            entities,
            ..
        } = *self;
        let authorizer = Authorizer::new();
        let response = authorizer.is_authorized(request, &am.policies, entities);
        let (reasons, errors) = explain(&response);
        let warnings = slice.warnings.clone();
        if !errors.is_empty() {
            // Fail closed: Cedar skips a policy that errors, which could turn a forbid into an
            // allow; Tollgate never allows when anything went wrong.
            return Ok(Decision {
                outcome: Outcome::Deny,
                reasons,
                errors,
                warnings,
                payment: None,
                org: None,
                reservation: None,
            });
        }
        if response.decision() == CedarDecision::Allow {
            return Ok(Decision {
                outcome: Outcome::Allow,
                reasons,
                errors,
                warnings,
                payment: None,
                org: None,
                reservation: None,
            });
        }
        let gates: Vec<&Gate> = reasons
            .iter()
            .filter_map(|r| am.gates.get(&cedar_policy::PolicyId::new(r)))
            .collect();
        let only_gates = !gates.is_empty() && gates.len() == reasons.len();
        if !only_gates {
            return Ok(Decision {
                outcome: Outcome::Deny,
                reasons,
                errors,
                warnings,
                payment: None,
                org: None,
                reservation: None,
            });
        }
        // Only plan gates forbid: does the role side permit on its own?
        let role = authorizer.is_authorized(request, &am.role_policies, entities);
        let (role_reasons, role_errors) = explain(&role);
        if role.decision() != CedarDecision::Allow || !role_errors.is_empty() {
            return Ok(Decision {
                outcome: Outcome::Deny,
                reasons: role_reasons,
                errors: role_errors,
                warnings,
                payment: None,
                org: None,
                reservation: None,
            });
        }
        let payment = self.payment(&gates)?;
        Ok(Decision {
            outcome: Outcome::PaymentRequired,
            reasons,
            errors,
            warnings,
            payment: Some(payment),
            org: None,
            reservation: None,
        })
    }
}

pub(super) fn explain(r: &Response) -> (Vec<String>, Vec<String>) {
    let mut reasons: Vec<String> = r.diagnostics().reason().map(|p| p.to_string()).collect();
    reasons.sort();
    let errors = r.diagnostics().errors().map(|e| e.to_string()).collect();
    (reasons, errors)
}
