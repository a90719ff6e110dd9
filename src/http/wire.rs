//! Wire forms of answers: a decision as JSON, an error in a batch slot; and the schemas of the
//! bodies built or parsed by hand, for the OpenAPI document.

use serde_json::{json, Map, Value};

use super::error::HttpError;
use crate::engine::{Decision, Outcome};

/// The wire name of an outcome.
pub fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Allow => "allow",
        Outcome::Deny => "deny",
        Outcome::PaymentRequired => "payment_required",
    }
}

/// The answer object of one decision.
pub fn decision_json(d: &Decision) -> Value {
    let mut m = Map::new();
    m.insert("decision".into(), json!(outcome_name(d.outcome)));
    m.insert("status".into(), json!(d.outcome.status()));
    m.insert("reasons".into(), json!(d.reasons));
    m.insert("errors".into(), json!(d.errors));
    if !d.warnings.is_empty() {
        m.insert("warnings".into(), json!(d.warnings));
    }
    if let Some(p) = &d.payment {
        m.insert(
            "payment".into(),
            serde_json::to_value(p).unwrap_or(Value::Null),
        );
    }
    if let Some(r) = &d.reservation {
        m.insert(
            "reservation".into(),
            json!({"id": r.id, "resource_type": r.resource_type, "amount": r.amount}),
        );
    }
    Value::Object(m)
}

/// A reservation as `POST /v1/reservations/{id}/release` answers it.
pub fn reservation_json(r: &crate::org::ReservationRow) -> Value {
    json!({
        "id": r.id,
        "org": r.org,
        "resource_type": r.resource_type,
        "amount": r.amount,
        "created_at": crate::http::v1::format_time(r.created_at),
        "released_at": r.released_at.map(crate::http::v1::format_time),
    })
}

/// An error in a batch slot.
pub fn error_slot(e: crate::error::Error) -> Value {
    json!({"error": HttpError::from(e).body()})
}

/// The schemas of the bodies above and of the decision requests that `engine::input` parses by
/// hand (for its strict errors and its speed): these types only describe them in the OpenAPI
/// document (`http::openapi`); schemathesis checks the served answers against them in CI.
#[allow(
    dead_code,
    reason = "schema-only types: never built, they describe bodies parsed or written by hand"
)]
pub(crate) mod schema {
    use utoipa::ToSchema;

    use crate::error::Code;

    /// A Cedar entity uid in its object form.
    #[derive(ToSchema)]
    #[schema(as = EntityUidObject)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct UidObject {
        /// The entity type, namespaced or not (`User`, `NS::Doc`).
        #[serde(rename = "type")]
        #[schema(example = "User")]
        _type: String,
        /// The entity id: any string, empty included.
        #[schema(example = "alice")]
        id: String,
    }

    /// A Cedar entity uid: `{"type", "id"}`, or the string form `User::"alice"`. Answers use the
    /// object form.
    #[derive(ToSchema)]
    #[schema(as = EntityUid)]
    #[serde(untagged)]
    pub(crate) enum Uid {
        /// `{"type": "User", "id": "alice"}`.
        Object(UidObject),
        /// `User::"alice"`.
        Text(String),
    }

    /// Cedar entity JSON (`uid`, `attrs`, `parents`, `tags`), validated against the schema; any
    /// other key is a 422 `UNKNOWN_FIELD`.
    #[derive(ToSchema)]
    #[schema(as = CedarEntity)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct Entity {
        /// Cedar entity JSON uid (`{type,id}` or `{__entity:{type,id}}`).
        #[schema(value_type = Value)]
        uid: (),
        /// Attribute values in Cedar's JSON (`__entity`/`__extn` escapes allowed).
        #[schema(value_type = Option<Object>, nullable = false)]
        attrs: (),
        /// Parent uids in Cedar entity JSON.
        #[schema(value_type = Option<Vec<Value>>, nullable = false)]
        parents: (),
        /// Entity tags in Cedar's JSON.
        #[schema(value_type = Option<Object>, nullable = false)]
        tags: (),
    }

    /// One decision request.
    #[derive(ToSchema)]
    #[schema(
        as = DecisionRequest,
        example = json!({
            "principal": {"type": "User", "id": "alice"},
            "action": {"type": "Action", "id": "invite_user"},
            "resource": {"type": "Org", "id": "acme"},
            "context": {"role": "member"}
        })
    )]
    #[serde(deny_unknown_fields)]
    pub(crate) struct DecisionRequest {
        /// Who acts.
        principal: Uid,
        /// What they do (an `Action` uid).
        action: Uid,
        /// On what.
        resource: Uid,
        /// Facts about the act, validated against the action's context type (`__entity`/`__extn`
        /// escapes allowed); absent or `null` is the empty context. A context that fails the
        /// schema is a 422 `INVALID_CONTEXT`.
        #[schema(value_type = Option<Object>)]
        context: (),
        /// Entities for this request only: they fill in what the store lacks, and a stored entity
        /// with the same uid wins (noted in `warnings`), never a 409; absent or `null` is none.
        entities: Option<Vec<Entity>>,
        /// Units (1 to 1,000,000) of the app-owned quota that gates the action to take
        /// atomically with an allow; the answer's `reservation` names them. A deny or a 402
        /// takes nothing. An action no app-owned quota gates: 422 `RESERVE_NOT_APPLICABLE`.
        #[schema(minimum = 1, maximum = 1_000_000)]
        reserve: Option<i64>,
    }

    /// Units taken by `reserve`.
    #[derive(ToSchema)]
    #[schema(as = Reservation)]
    pub(crate) struct ReservationBody {
        /// Unguessable id (128 random bits); `POST /v1/reservations/{id}/release` gives the
        /// units back.
        #[schema(example = "rsv_3f2a9c0d8e7b6a5f4e3d2c1b0a998877")]
        id: String,
        /// The quota.
        #[schema(example = "quota:project")]
        resource_type: String,
        /// Units taken.
        amount: i64,
    }

    /// A reservation as its release answers it.
    #[derive(ToSchema)]
    #[schema(as = ReleasedReservation)]
    pub(crate) struct ReleasedBody {
        /// The reservation's id.
        id: String,
        /// The org whose counter it moved.
        org: String,
        /// The quota.
        resource_type: String,
        /// Units taken, and given back.
        amount: i64,
        /// When it was made (RFC 3339).
        created_at: String,
        /// When it was released (RFC 3339): the first release's time, however often it is
        /// released again.
        released_at: String,
    }

    /// The outcome of a decision.
    #[derive(ToSchema)]
    #[schema(as = DecisionName)]
    #[serde(rename_all = "snake_case")]
    pub(crate) enum OutcomeName {
        /// Allowed.
        Allow,
        /// Denied by the role side, or by a plan gate without a role-side permit.
        Deny,
        /// The role side permits; only plan gates forbid.
        PaymentRequired,
    }

    /// The answer to one decision: `payment` only when `decision` is `payment_required`,
    /// `warnings` only when there are some.
    #[derive(ToSchema)]
    #[schema(as = DecisionAnswer)]
    pub(crate) struct DecisionAnswer {
        /// allow, deny or payment_required.
        decision: OutcomeName,
        /// The HTTP status the decision stands for (`?mirror=1` answers with it).
        #[schema(schema_with = decision_status)]
        status: u16,
        /// Ids of the determining policies (`@id`, else `file:index`).
        reasons: Vec<String>,
        /// Evaluation errors; any makes the answer a deny.
        errors: Vec<String>,
        /// Present only when non-empty (an unknown principal or resource, a request entity the
        /// store overrode).
        #[schema(nullable = false)]
        warnings: Option<Vec<String>>,
        /// Why payment is required.
        #[schema(nullable = false)]
        payment: Option<PaymentBody>,
        /// Only on an allow that asked for `reserve`: the units taken.
        #[schema(nullable = false)]
        reservation: Option<ReservationBody>,
    }

    fn decision_status() -> utoipa::openapi::Object {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::Integer)
            .enum_values(Some([200, 403, 402]))
            .build()
    }

    /// One resource type's use against its limit.
    #[derive(ToSchema)]
    #[schema(as = CurrentUsage)]
    pub(crate) struct CurrentUsageBody {
        /// The resource type that blocked.
        #[schema(example = "quota:project")]
        resource_type: String,
        /// Units in use.
        current: i64,
        /// The plan's limit.
        limit: i64,
    }

    /// The payment-required value: a decision's `payment`, or the whole body of a 402 from a write
    /// (it has `code` and `message`, like every error answer). `current_usage` only when a limit
    /// blocked.
    #[derive(ToSchema)]
    #[schema(as = Payment)]
    pub(crate) struct PaymentBody {
        /// Always `payment_required`.
        #[schema(schema_with = payment_required)]
        error: String,
        /// Human sentence.
        message: String,
        /// Why.
        #[schema(schema_with = payment_code)]
        code: String,
        /// Lowest catalog tier that would allow it; null when none would.
        #[schema(required = true, example = "professional")]
        required_plan: Option<String>,
        /// Where to upgrade (the `--upgrade-url` template).
        #[schema(example = "https://billing.example.com/upgrade?org=acme&plan=professional")]
        upgrade_url: String,
        /// The limit that blocked.
        #[schema(nullable = false)]
        current_usage: Option<CurrentUsageBody>,
    }

    fn payment_required() -> utoipa::openapi::Object {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .enum_values(Some(["payment_required"]))
            .build()
    }

    /// The payment codes, from the enum the 402 value serializes.
    fn payment_code() -> utoipa::openapi::Object {
        let names = crate::plans::PaymentCode::ALL
            .iter()
            .filter_map(|c| serde_json::to_value(c).ok())
            .filter_map(|v| v.as_str().map(str::to_owned));
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .enum_values(Some(names))
            .build()
    }

    /// An error answer. The status says the class (400 malformed, 401 credentials, 404 unknown
    /// thing, 405 method, 409 conflict, 413 too large, 415 content type, 422 invalid by schema or
    /// rules, 500 bug, 503 store or policies unavailable); `code` says which.
    #[derive(ToSchema)]
    #[schema(as = Error)]
    pub(crate) struct ErrorBody {
        /// Stable machine code.
        #[schema(schema_with = error_code)]
        code: String,
        /// Human sentence.
        message: String,
        /// Optional extra data.
        #[schema(value_type = Option<Value>)]
        details: (),
    }

    /// A forward-auth refusal with `?proxy=nginx`: the error object, or (for a
    /// `payment_required` turned into a 403 for nginx) the payment object.
    #[derive(ToSchema)]
    #[schema(as = ForwardRefusal)]
    #[serde(untagged)]
    pub(crate) enum ForwardRefusalBody {
        /// `ACCESS_DENIED`, `NO_ROUTE`.
        Error(ErrorBody),
        /// The plan does not pay for it.
        Payment(PaymentBody),
    }

    /// Every code of `Code::ALL`, in table order.
    fn error_code() -> utoipa::openapi::Object {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .enum_values(Some(Code::ALL.iter().map(|c| c.name())))
            .description(Some(
                "Stable machine code: one of the error table (`Code::ALL`); the 402 body of a \
                 write is the Payment object instead.",
            ))
            .build()
    }

    /// `POST /v1/authorize/batch`.
    #[derive(ToSchema)]
    #[schema(as = BatchRequest)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct BatchRequest {
        /// At most `--max-batch` (default 100) items, else a 422 `BATCH_TOO_LARGE`. Each item is
        /// judged as a DecisionRequest; any other value is still an item, and fails only its
        /// own slot (`{"error": ...}`), never the batch.
        #[schema(schema_with = batch_items)]
        requests: (),
    }

    /// An array of items, each a DecisionRequest or any other value (which fails its slot).
    fn batch_items() -> utoipa::openapi::schema::Array {
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(
                utoipa::openapi::schema::AnyOfBuilder::new()
                    .item(utoipa::openapi::Ref::from_schema_name(
                        DecisionRequest::name(),
                    ))
                    .item(
                        utoipa::openapi::ObjectBuilder::new()
                            .schema_type(utoipa::openapi::schema::SchemaType::AnyValue),
                    ),
            )
            .build()
    }

    /// A batch item that could not be judged.
    #[derive(ToSchema)]
    #[schema(as = BatchError)]
    pub(crate) struct BatchError {
        /// Why.
        error: ErrorBody,
    }

    /// One slot of a batch answer.
    #[derive(ToSchema)]
    #[schema(as = BatchSlot)]
    #[serde(untagged)]
    pub(crate) enum BatchSlot {
        /// The item's decision.
        Answer(Box<DecisionAnswer>),
        /// The item's error.
        Error(BatchError),
    }

    /// The answer to a batch.
    #[derive(ToSchema)]
    #[schema(as = BatchAnswer)]
    pub(crate) struct BatchAnswer {
        /// Same order as `requests`.
        results: Vec<BatchSlot>,
    }

    /// `POST /v1/permissions`: the given context applies to every action.
    #[derive(ToSchema)]
    #[schema(as = PermissionsRequest)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct PermissionsRequest {
        /// Who acts.
        principal: Uid,
        /// On what.
        resource: Uid,
        /// Facts about the act, for every action; an action that cannot be judged without context
        /// it lacks is a deny with `errors`.
        #[schema(value_type = Option<Object>)]
        context: (),
        /// Entities for this request only, as in a decision.
        entities: Option<Vec<Entity>>,
    }

    /// One action's verdict: what `/v1/authorize` answers for the same request, plus
    /// `required_plan` when payment is required.
    #[derive(ToSchema)]
    #[schema(as = PermissionEntry)]
    pub(crate) struct PermissionEntry {
        #[serde(flatten)]
        answer: DecisionAnswer,
        /// Present when `decision` is `payment_required`: the lowest tier that would allow it, or
        /// null when none would.
        required_plan: Option<String>,
    }

    /// Verdicts keyed by action id.
    #[derive(ToSchema)]
    #[schema(as = PermissionsAnswer)]
    pub(crate) struct PermissionsAnswer {
        /// Keyed by action id.
        actions: std::collections::BTreeMap<String, PermissionEntry>,
    }

    /// A subscription status, as Stripe names it (from `plans::SubscriptionStatus::ALL`).
    pub(crate) struct SubscriptionStatus;

    impl utoipa::PartialSchema for SubscriptionStatus {
        fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::Type::String)
                .enum_values(Some(
                    crate::plans::SubscriptionStatus::ALL
                        .iter()
                        .map(|s| s.as_str()),
                ))
                .into()
        }
    }

    impl ToSchema for SubscriptionStatus {
        fn name() -> std::borrow::Cow<'static, str> {
            "SubscriptionStatus".into()
        }
    }

    /// A workspace role.
    #[derive(ToSchema)]
    #[schema(as = WorkspaceRole)]
    #[serde(rename_all = "snake_case")]
    pub(crate) enum WorkspaceRole {
        /// Administers the workspace.
        Admin,
        /// Works in it.
        Member,
        /// Reads it.
        Viewer,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use utoipa::PartialSchema;

    use super::schema::{DecisionAnswer, ErrorBody, PaymentBody};
    use super::{decision_json, error_slot};
    use crate::engine::{Decision, Outcome};
    use crate::error::{Code, Error};
    use crate::plans::{CurrentUsage, Payment, PaymentCode};

    /// Every key of `value` is a property of `schema`, and every required one is there.
    fn conforms<S: PartialSchema>(value: &Value) {
        let schema = serde_json::to_value(S::schema()).unwrap();
        let props = schema["properties"].as_object().unwrap();
        for k in value.as_object().unwrap().keys() {
            assert!(props.contains_key(k), "`{k}` is not in {schema}");
        }
        for r in schema["required"].as_array().unwrap() {
            let r = r.as_str().unwrap();
            assert!(
                value.get(r).is_some(),
                "`{r}` is required by {schema}: {value}"
            );
        }
    }

    #[test]
    fn hand_built_answers_have_the_keys_their_schemas_declare() {
        let payment = Payment::new(
            PaymentCode::PlanLimitReached,
            None,
            Some("starter".into()),
            "https://billing.example.com/upgrade".into(),
            Some(CurrentUsage {
                resource_type: "seat:total".into(),
                current: 3,
                limit: 3,
            }),
        );
        conforms::<PaymentBody>(&serde_json::to_value(&payment).unwrap());
        let d = Decision {
            outcome: Outcome::PaymentRequired,
            reasons: vec!["gate.seat.total".into()],
            errors: vec![],
            warnings: vec!["unknown principal".into()],
            payment: Some(payment),
            org: None,
            reservation: None,
        };
        conforms::<DecisionAnswer>(&decision_json(&d));
        let slot = error_slot(Error::new(Code::UnknownAction, "no such action"));
        conforms::<ErrorBody>(&slot["error"]);
    }
}
