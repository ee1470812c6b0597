//! The one error type of the core: what went wrong with a use case, in terms a client
//! can act on. The server maps each variant to an HTTP status and a WorkOS error body.

/// One invalid field, as WorkOS reports it: `{"field": "name", "code": "required"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The dotted path of the field.
    pub field: String,
    /// A snake_case reason, e.g. `required`, `invalid`, `too_long`.
    pub code: String,
    /// A human-readable explanation, where the API gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl FieldError {
    /// A field error with `field` and `code`.
    pub fn new(field: impl Into<String>, code: impl Into<String>) -> Self {
        Self { field: field.into(), code: code.into(), message: None }
    }

    /// The same with an explanation.
    pub fn explained(field: impl Into<String>, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), code: code.into(), message: Some(message.into()) }
    }
}

/// One place where a document breaks a JSON Schema: `{"instancePath": "/targets/0", "message": …}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchemaViolation {
    /// JSON Pointer to the offending value (`""` for the whole document).
    #[serde(rename = "instancePath")]
    pub instance_path: String,
    /// What is wrong with it.
    pub message: String,
}

/// Why a use case failed, by what happened. Each variant carries the WorkOS error code a
/// client acts on; the server's envelopes (WorkOS in `server/src/error.rs`, SCIM in
/// `server/src/scim/error.rs`, OAuth in `server/src/sso/oauth.rs`) choose the status and
/// the body.
///
/// Which to use:
/// - [`CoreError::NotFound`]: the id or key names nothing in this environment (404).
/// - [`CoreError::Invalid`]: one or more fields of the request are wrong; name each (422).
/// - [`CoreError::Unusable`]: the fields are well-formed but name something that cannot be
///   used as asked, with WorkOS's code (422), e.g. a role that does not exist.
/// - [`CoreError::Conflict`]: the request collides with existing state (409).
/// - [`CoreError::Refused`]: the request cannot be done as asked, with WorkOS's code and,
///   where WorkOS lists them, the reasons (400), e.g. a weak password.
/// - [`CoreError::Forbidden`]: the caller's credential does not allow it (403; 401 for an
///   OAuth client).
/// - [`CoreError::NextStep`]: a sign-in must continue with another step (403).
/// - [`CoreError::Throttled`]: too many failures; retry later (429).
/// - [`CoreError::Unavailable`]: a dependency (DNS, SMTP, an identity provider) did not
///   answer (502). The cause is logged, never shown.
/// - [`CoreError::Internal`]: the store or an invariant failed (500). The cause is logged
///   once, never shown.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The addressed object does not exist in this environment.
    #[error("{entity} not found: '{id}'.")]
    NotFound {
        /// Human name of the kind of object, e.g. `Organization`.
        entity: &'static str,
        /// The id or key that was looked up.
        id: String,
    },
    /// The request is well-formed but its fields are invalid.
    #[error("Validation failed.")]
    Invalid(Vec<FieldError>),
    /// The request names something that cannot be used as asked.
    #[error("{message}")]
    Unusable {
        /// snake_case error code.
        code: &'static str,
        /// Human-readable message.
        message: String,
    },
    /// The request conflicts with existing state.
    #[error("{message}")]
    Conflict {
        /// snake_case error code.
        code: &'static str,
        /// Human-readable message.
        message: String,
    },
    /// The request cannot be processed as asked.
    #[error("{message}")]
    Refused {
        /// snake_case error code.
        code: &'static str,
        /// Human-readable message.
        message: String,
        /// What exactly was refused, where WorkOS lists it (empty otherwise).
        errors: Vec<FieldError>,
    },
    /// The caller may not do this, e.g. a bad download signature or OAuth client secret.
    #[error("{message}")]
    Forbidden {
        /// snake_case error code.
        code: &'static str,
        /// Human-readable message.
        message: String,
    },
    /// A sign-in needs one more step before it gives a session (403): WorkOS's `code`
    /// (`mfa_challenge`, `email_verification_required`, …), the token that continues it,
    /// and the fields the SDKs' typed errors read (`user`, `authentication_factors`, …).
    #[error("{message}")]
    NextStep {
        /// snake_case error code.
        code: &'static str,
        /// Human-readable message.
        message: String,
        /// `pending_authentication_token` and the step's own fields, sent as they are.
        details: serde_json::Map<String, serde_json::Value>,
    },
    /// Too many failed attempts from this address or for this account (429), with the
    /// seconds until the next attempt is counted.
    #[error("too many attempts")]
    Throttled {
        /// Seconds to wait (`Retry-After`).
        retry_after_secs: u64,
    },
    /// An audit-log event does not match its action's schema (400 `invalid_audit_log_event`).
    #[error("Invalid Audit Log event.")]
    InvalidAuditLogEvent(Vec<SchemaViolation>),
    /// A SCIM request breaks RFC 7644 in a way it names (status and `scimType`); only the
    /// SCIM endpoint produces it.
    #[error("{0}")]
    Scim(vestibule_scim::ScimError),
    /// An outbound dependency (DNS, SMTP, an identity provider) failed; for logs only.
    #[error("upstream error: {0}")]
    Unavailable(String),
    /// Storage or an invariant failed; for logs only.
    #[error("internal error: {0}")]
    Internal(#[from] StoreError),
}

impl CoreError {
    /// A validation error on one field.
    pub fn field(field: &str, code: &str) -> Self {
        CoreError::Invalid(vec![FieldError::new(field, code)])
    }

    /// A refusal with WorkOS's `code` and no listed reasons.
    pub fn refused(code: &'static str, message: String) -> Self {
        CoreError::Refused { code, message, errors: Vec::new() }
    }
}

/// Shorthand for results of use cases.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;

/// Failures a store reports.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness constraint was violated; carries a stable name of what collided.
    #[error("conflict on {0}")]
    Conflict(&'static str),
    /// A concurrent writer changed the row first; the caller may retry.
    #[error("concurrent modification")]
    Contended,
    /// The database failed, or a stored value is unreadable; the cause (kept as the
    /// error's source) is for logs only.
    #[error("database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}
