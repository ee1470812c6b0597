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

/// Why a use case failed.
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
    /// The request is well-formed but its fields are invalid (422).
    #[error("Validation failed.")]
    Validation(Vec<FieldError>),
    /// The request conflicts with existing state (409).
    #[error("{message}")]
    Conflict {
        /// snake_case error code.
        code: &'static str,
        /// Human-readable message.
        message: String,
    },
    /// The request is valid JSON but names something that cannot be used (422 with a code).
    #[error("{message}")]
    Unprocessable {
        /// snake_case error code.
        code: &'static str,
        /// Human-readable message.
        message: String,
    },
    /// The request cannot be processed as asked (400), with the reasons listed.
    #[error("{message}")]
    Refused {
        /// snake_case error code.
        code: &'static str,
        /// Human-readable message.
        message: String,
        /// What exactly was refused.
        errors: Vec<FieldError>,
    },
    /// The request cannot be processed as asked (400).
    #[error("{message}")]
    BadRequest {
        /// snake_case error code.
        code: &'static str,
        /// Human-readable message.
        message: String,
    },
    /// The caller may not do this, whoever they are (403), e.g. a bad download signature.
    #[error("{message}")]
    Forbidden {
        /// snake_case error code.
        code: &'static str,
        /// Human-readable message.
        message: String,
    },
    /// An audit-log event does not match its action's schema (400 `invalid_audit_log_event`).
    #[error("Invalid Audit Log event.")]
    InvalidAuditLogEvent(Vec<SchemaViolation>),
    /// Storage failed; the cause is logged, never shown.
    #[error("storage error")]
    Store(#[from] StoreError),
    /// A SCIM request failed in a way RFC 7644 names (status and `scimType`).
    #[error("{0}")]
    Scim(vestibule_scim::ScimError),
    /// An outbound dependency (DNS, SMTP, …) failed.
    #[error("upstream error: {0}")]
    Upstream(String),
}

impl CoreError {
    /// A validation error on one field.
    pub fn field(field: &str, code: &str) -> Self {
        CoreError::Validation(vec![FieldError::new(field, code)])
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
    /// The database failed; the message is for logs only.
    #[error("database error: {0}")]
    Backend(String),
}
