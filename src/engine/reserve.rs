//! `reserve: n` on a decision: the judgement and the quota's increment in one SQLite write
//! transaction, so N concurrent reserves at remaining room R grant exactly min(N, R).
//!
//! Such a decision is a write (the one exception to "decisions take no write lock"): its slice
//! is read inside the `BEGIN IMMEDIATE` transaction that takes the units, through no cache
//! (another process may have committed since this one last synced), and it is never cached.
//! A deny or a 402 reserves nothing and commits nothing.

use std::collections::BTreeSet;

use super::decide::{check, judge_slice, Checked};
use super::{slice, Decision, DecisionInput, Engine, OrgCache, Outcome};
use crate::error::{Code, Error, Result};
use crate::model::{ActionModel, Gate, Model};
use crate::plans::Catalog;

/// The one app-owned quota that gates an action (a `@gate("limit")` whose resource type the
/// app counts): what `reserve` takes. None, or several: 422 `RESERVE_NOT_APPLICABLE`.
fn reserved_quota<'a>(am: &'a ActionModel, action: &impl std::fmt::Display) -> Result<&'a str> {
    let quotas: BTreeSet<&str> = am
        .gates
        .values()
        .filter_map(|g| match g {
            Gate::Limit(rt) if !Catalog::is_tollgate_counted(rt) => Some(rt.as_str()),
            _ => None,
        })
        .collect();
    let mut it = quotas.iter();
    match (it.next(), it.next()) {
        (Some(q), None) => Ok(q),
        (None, _) => Err(Error::new(
            Code::ReserveNotApplicable,
            format!(
                "no app-owned quota gates {action}: `reserve` applies only to actions a \
                 `@gate(\"limit\")` on an app-counted resource type gates (seats and \
                 `quota:workspace` are counted by Tollgate from the rows themselves)"
            ),
        )),
        (Some(_), Some(_)) => Err(Error::new(
            Code::ReserveNotApplicable,
            format!(
                "several app-owned quotas gate {action} ({}): `reserve` cannot tell which to take",
                quotas.iter().copied().collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

/// A reservation id: 128 random bits, hex, prefixed.
fn new_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Internal(format!("no randomness for a reservation id: {e}")))?;
    Ok(format!("rsv_{}", hex::encode(bytes)))
}

impl Engine {
    /// A decision that takes `amount` units of its action's quota on an allow, atomically.
    pub(super) fn decide_reserving(
        &self,
        model: &Model,
        input: &DecisionInput,
        amount: i64,
        now: i64,
    ) -> Result<Decision> {
        let Checked {
            am,
            request,
            ctx_json,
            provided,
        } = check(model, input)?;
        let quota = reserved_quota(am, &input.action)?;
        let template = self.upgrade_template(model);
        let ctx = self.org_ctx(model, &template, now);
        let no_cache = OrgCache::with_max_bytes(0);
        let src = slice::Sources {
            store: &self.store,
            orgs: &no_cache,
            model,
            ctx,
        };
        self.store.write_if(|w| {
            let (mut slice, _) = slice::build(
                &src,
                w,
                slice::Wanted {
                    principal: &input.principal,
                    resource: &input.resource,
                    context: ctx_json,
                    provided,
                },
            )?;
            let mut decision = judge_slice(model, am, &request, &mut slice, &template)?;
            if decision.outcome != Outcome::Allow {
                return Ok((decision, false));
            }
            let Some(org) = slice.org.as_ref() else {
                return Err(Error::new(
                    Code::ReserveNotApplicable,
                    "the request is about no org, so there is no quota to reserve from",
                ));
            };
            match crate::org::reserve(w, ctx, &org.row.id, quota, amount, new_id()?) {
                Ok(row) => {
                    decision.reservation = Some(Box::new(row));
                    Ok((decision, true))
                }
                // Allowed for one more unit, but not for `amount`: the gate's own 402.
                Err(Error::PaymentRequired(p)) => {
                    let mut reasons: Vec<String> = am
                        .gates
                        .iter()
                        .filter(|(_, g)| matches!(g, Gate::Limit(rt) if rt == quota))
                        .map(|(id, _)| id.to_string())
                        .collect();
                    reasons.sort();
                    decision.outcome = Outcome::PaymentRequired;
                    decision.reasons = reasons;
                    decision.payment = Some(*p);
                    Ok((decision, false))
                }
                Err(e) => Err(e),
            }
        })
    }
}
