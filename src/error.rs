//! The core's one error type, and the one table of every stable error code Tollgate answers.
//!
//! A failure below HTTP is an [`Error`]. One that a client caused carries a [`Code`]; the table
//! in [`codes!`] gives each code its wire name and its [`Kind`], and `http::error` turns a kind
//! into a status in one match, so no handler ever chooses a status by itself.

use crate::plans::Payment;

/// What sort of failure a code is; the HTTP layer maps each kind to one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The request cannot be read at all (not JSON, a key twice, a bad path): 400.
    Malformed,
    /// No credential, or one that does not match: 401.
    Unauthorized,
    /// A write would pass a plan limit or needs a feature: 402.
    PaymentRequired,
    /// The policies deny, or no forward-auth route matches: 403.
    Forbidden,
    /// The thing named does not exist: 404.
    NotFound,
    /// The method is not one the route serves: 405.
    MethodNotAllowed,
    /// The write conflicts with what the store holds: 409.
    Conflict,
    /// The body is larger than the limit: 413.
    TooLarge,
    /// The body is not `application/json`: 415.
    UnsupportedMediaType,
    /// Readable, but breaks the schema or a rule: 422.
    Invalid,
    /// A bug, or a failure whose cause goes to the log only: 500.
    Internal,
    /// The store or the policies cannot serve now: 503.
    Unavailable,
}

macro_rules! codes {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal, $kind:ident;)*) => {
        /// Every stable, machine-readable error code, with its wire name and kind.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Code {
            /// Every code, in table order (for the OpenAPI document and its test).
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The name clients match on, e.g. `UNKNOWN_ACTION`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Code::$variant => $name,)*
                }
            }

            /// What sort of failure it is.
            pub fn kind(self) -> Kind {
                match self {
                    $(Code::$variant => Kind::$kind,)*
                }
            }
        }
    };
}

codes! {
    /// The body is not JSON (or nested too deep).
    MalformedJson = "MALFORMED_JSON", Malformed;
    /// A key appears twice in one JSON object.
    DuplicateKey = "DUPLICATE_KEY", Malformed;
    /// A body is required and none was sent.
    MissingBody = "MISSING_BODY", Malformed;
    /// The path's percent-escapes do not decode to UTF-8.
    MalformedPath = "MALFORMED_PATH", Malformed;
    /// The query string cannot be parsed.
    MalformedQuery = "MALFORMED_QUERY", Malformed;
    /// The body could not be read from the connection.
    BodyReadFailed = "BODY_READ_FAILED", Malformed;
    /// Any other request the server could not read.
    BadRequest = "BAD_REQUEST", Malformed;
    /// A forward-auth request lacks the original method or URI of its convention.
    MissingOriginal = "MISSING_ORIGINAL", Malformed;
    /// An original path a server could normalize into another (dot segments, `%2F`, `%2E`,
    /// `//`, `\`), or one that does not decode to UTF-8.
    MalformedUri = "MALFORMED_URI", Malformed;
    /// A route needs a value the original request lacks or has in the wrong form.
    InvalidRouteValue = "INVALID_ROUTE_VALUE", Malformed;
    /// A Stripe webhook's `Stripe-Signature` is missing, malformed, or matches no secret.
    InvalidSignature = "INVALID_SIGNATURE", Malformed;
    /// A Stripe webhook's signed timestamp is further from now than the tolerance.
    TimestampOutOfTolerance = "TIMESTAMP_OUT_OF_TOLERANCE", Malformed;
    /// A correctly signed Stripe webhook body is not an event (no `id`, `type`, `created` or
    /// `data.object`).
    MalformedEvent = "MALFORMED_EVENT", Malformed;
    /// No credential, or a credential that does not match.
    Unauthorized = "UNAUTHORIZED", Unauthorized;
    /// A forward-auth request carries no identity.
    NoIdentity = "NO_IDENTITY", Unauthorized;
    /// An identity header came from a peer that is not a trusted proxy.
    UntrustedProxy = "UNTRUSTED_PROXY", Unauthorized;
    /// A forward-auth bearer JWT does not verify: expired, not yet valid, badly signed, an
    /// algorithm its key does not allow, another issuer or audience, an unknown `kid`, or no
    /// principal claim.
    InvalidToken = "INVALID_TOKEN", Unauthorized;
    /// The policies deny the original request (forward auth).
    AccessDenied = "ACCESS_DENIED", Forbidden;
    /// No route of the route file matches the original request.
    NoRoute = "NO_ROUTE", Forbidden;
    /// A write passes a plan limit (the body is the payment object).
    PlanLimitReached = "PLAN_LIMIT_REACHED", PaymentRequired;
    /// No such endpoint, org, member, workspace, invitation or entity.
    NotFound = "NOT_FOUND", NotFound;
    /// The route does not serve this method.
    MethodNotAllowed = "METHOD_NOT_ALLOWED", MethodNotAllowed;
    /// The write conflicts with what is stored.
    Conflict = "CONFLICT", Conflict;
    /// A workspace still holds stored entities.
    WorkspaceNotEmpty = "WORKSPACE_NOT_EMPTY", Conflict;
    /// The body is larger than the configured limit.
    PayloadTooLarge = "PAYLOAD_TOO_LARGE", TooLarge;
    /// The body is not `application/json`.
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE", UnsupportedMediaType;
    /// A batch holds more requests than allowed.
    BatchTooLarge = "BATCH_TOO_LARGE", Invalid;
    /// An entity names parents in more than one org.
    CrossOrgParents = "CROSS_ORG_PARENTS", Invalid;
    /// The same entity uid appears twice in a request.
    DuplicateEntity = "DUPLICATE_ENTITY", Invalid;
    /// A typed body has a wrong value.
    InvalidBody = "INVALID_BODY", Invalid;
    /// The context breaks the action's context type.
    InvalidContext = "INVALID_CONTEXT", Invalid;
    /// An email address is not valid.
    InvalidEmail = "INVALID_EMAIL", Invalid;
    /// Entity JSON is invalid for the schema.
    InvalidEntity = "INVALID_ENTITY", Invalid;
    /// A type name is not a Cedar entity type name.
    InvalidEntityType = "INVALID_ENTITY_TYPE", Invalid;
    /// An import line is invalid.
    InvalidImport = "INVALID_IMPORT", Invalid;
    /// The request does not fit the schema (principal or resource type).
    InvalidRequest = "INVALID_REQUEST", Invalid;
    /// A resource type is not shaped like `quota:project`.
    InvalidResourceType = "INVALID_RESOURCE_TYPE", Invalid;
    /// A custom role's name or level is not valid.
    InvalidRole = "INVALID_ROLE", Invalid;
    /// A subscription status is not one of Stripe's.
    InvalidStatus = "INVALID_STATUS", Invalid;
    /// A time is not RFC 3339.
    InvalidTime = "INVALID_TIME", Invalid;
    /// An entity uid is not valid in either spelling.
    InvalidUid = "INVALID_UID", Invalid;
    /// A usage value is not valid.
    InvalidUsage = "INVALID_USAGE", Invalid;
    /// An invitation's expiry is already past.
    InvitationExpired = "INVITATION_EXPIRED", Invalid;
    /// Entity data names a type or attribute only the org API may write.
    ManagedEntity = "MANAGED_ENTITY", Invalid;
    /// A required field is missing.
    MissingField = "MISSING_FIELD", Invalid;
    /// A workspace member must first be an org member.
    NotAMember = "NOT_A_MEMBER", Invalid;
    /// A field is `null`; leaving it out keeps the stored value.
    NullField = "NULL_FIELD", Invalid;
    /// An entity would be its own ancestor.
    ParentCycle = "PARENT_CYCLE", Invalid;
    /// A new org needs a primary owner.
    PrimaryOwnerRequired = "PRIMARY_OWNER_REQUIRED", Invalid;
    /// A request entity gives parents to an entity the store names.
    ProvidedAncestor = "PROVIDED_ANCESTOR", Invalid;
    /// The new policy set failed to load or would drop a forbid.
    ReloadRejected = "RELOAD_REJECTED", Invalid;
    /// `reserve` on an action that no app-owned quota gates (none, or a seat bucket, or
    /// `quota:workspace`, which Tollgate counts), or that several do, or about no org.
    ReserveNotApplicable = "RESERVE_NOT_APPLICABLE", Invalid;
    /// `reserve` is not a whole number of units from 1 to 1,000,000.
    InvalidReserve = "INVALID_RESERVE", Invalid;
    /// A request reaches more entities than a slice may hold.
    SliceTooLarge = "SLICE_TOO_LARGE", Invalid;
    /// Tollgate counts this resource type itself.
    TollgateCounted = "TOLLGATE_COUNTED", Invalid;
    /// The schema declares no such action.
    UnknownAction = "UNKNOWN_ACTION", Invalid;
    /// A body or entity has a field nobody reads.
    UnknownField = "UNKNOWN_FIELD", Invalid;
    /// An entity's `Org` or `Workspace` parent does not exist.
    UnknownParent = "UNKNOWN_PARENT", Invalid;
    /// A plan is not in the catalog.
    UnknownPlan = "UNKNOWN_PLAN", Invalid;
    /// A role is neither built in nor defined for the org.
    UnknownRole = "UNKNOWN_ROLE", Invalid;
    /// A bug or a local failure; the cause is in the server log.
    Internal = "INTERNAL", Internal;
    /// The store cannot serve (file gone, read-only, I/O error, busy).
    StoreUnavailable = "STORE_UNAVAILABLE", Unavailable;
    /// No usable policy set is loaded.
    PoliciesUnavailable = "POLICIES_UNAVAILABLE", Unavailable;
    /// Forward auth needs a route file (`--routes`), and none is configured.
    RoutesNotConfigured = "ROUTES_NOT_CONFIGURED", Unavailable;
    /// No Stripe webhook secret is configured (`STRIPE_WEBHOOK_SECRET`): unsigned events are
    /// never accepted.
    StripeNotConfigured = "STRIPE_NOT_CONFIGURED", Unavailable;
    /// Re-reading a subscription from Stripe's API failed; Stripe retries the event.
    StripeApiUnavailable = "STRIPE_API_UNAVAILABLE", Unavailable;
}

/// Every failure the core reports: bad input (with a [`Code`]), a plan limit, or a store,
/// model, configuration or local failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is refused for a reason the client can fix; the code says which.
    #[error("{message}")]
    Rejected {
        /// Stable code.
        code: Code,
        /// Human sentence.
        message: String,
    },
    /// A write would pass a plan limit; carries the 402 body.
    #[error("{}", .0.message)]
    PaymentRequired(Box<Payment>),
    /// The SQLite store cannot be used (file removed, read-only, I/O error).
    #[error("store unavailable: {0}")]
    StoreUnavailable(String),
    /// An SQLite call failed.
    #[error("store error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Policies, schema or plan catalog failed to load or validate.
    #[error("{0}")]
    PolicyLoad(String),
    /// Configuration is invalid; raised at start-up.
    #[error("configuration error: {0}")]
    Config(String),
    /// Local I/O failed (reading a config file, writing the token file).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A bug: an invariant the code relies on did not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::plans::CatalogError> for Error {
    fn from(e: crate::plans::CatalogError) -> Self {
        Error::PolicyLoad(e.to_string())
    }
}

impl Error {
    /// A refusal with a stable code.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Error::Rejected {
            code,
            message: message.into(),
        }
    }

    /// A 404: the thing named does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(Code::NotFound, message)
    }

    /// Wraps an I/O error with what was being attempted.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> Code {
        match self {
            Error::Rejected { code, .. } => *code,
            Error::PaymentRequired(_) => Code::PlanLimitReached,
            Error::StoreUnavailable(_) => Code::StoreUnavailable,
            // The store cannot serve (I/O, full disk, read-only, busy, corrupt). Anything else
            // SQLite reports (a constraint, a misuse) is a bug.
            Error::Sqlite(e) if sqlite_unavailable(e) => Code::StoreUnavailable,
            Error::Sqlite(_) => Code::Internal,
            Error::PolicyLoad(_) => Code::PoliciesUnavailable,
            Error::Config(_) | Error::Io { .. } | Error::Internal(_) => Code::Internal,
        }
    }
}

fn sqlite_unavailable(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(
        e.sqlite_error_code(),
        Some(
            DatabaseBusy
                | DatabaseLocked
                | SystemIoFailure
                | DatabaseCorrupt
                | DiskFull
                | CannotOpen
                | ReadOnly
                | NotADatabase
                | FileLockingProtocolFailed
                | OutOfMemory
        )
    )
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names_are_unique_and_screaming_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.name()), "{} twice", c.name());
            assert!(
                c.name()
                    .chars()
                    .all(|ch| ch.is_ascii_uppercase() || ch == '_'),
                "{}",
                c.name()
            );
        }
    }
}
