//! The value of a payment-required answer: why (a feature or a limit), the lowest tier that
//! would allow it, and where to upgrade.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;

/// Why a 402 was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentCode {
    /// A feature the plan lacks.
    FeatureNotInPlan,
    /// A seat or quota limit is reached.
    PlanLimitReached,
}

impl PaymentCode {
    /// Every code (for the OpenAPI document).
    pub const ALL: &'static [PaymentCode] =
        &[PaymentCode::FeatureNotInPlan, PaymentCode::PlanLimitReached];
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

/// Everything but RFC 3986's unreserved characters is escaped in an id placed in a URL.
pub const URL_ID_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Fills the upgrade URL template's `{org}` and `{plan}` placeholders.
pub fn upgrade_url(template: &str, org: &str, plan: Option<&str>) -> String {
    let enc = |s: &str| utf8_percent_encode(s, URL_ID_ESCAPED).to_string();
    template
        .replace("{org}", &enc(org))
        .replace("{plan}", &enc(plan.unwrap_or("")))
}
