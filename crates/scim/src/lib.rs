//! SCIM 2.0 (RFC 7643/7644) without I/O: the filter grammar parsed by hand into an AST,
//! PATCH paths, and PATCH operations applied to JSON resources, with the leniencies real
//! identity providers need (Entra ID's capitalised ops, booleans as strings, value-less
//! paths). Attribute names are matched case-insensitively, as RFC 7643 §2.1 requires.
#![forbid(unsafe_code)]

pub mod discovery;
pub mod filter;
pub mod patch;

/// A SCIM failure, as RFC 7644 §3.12 reports it: an HTTP status and a `scimType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    /// The HTTP status.
    pub status: u16,
    /// `invalidFilter`, `invalidPath`, `noTarget`, `invalidValue`, `uniqueness`, …
    pub scim_type: Option<&'static str>,
    /// A human-readable explanation.
    pub detail: String,
}

impl ScimError {
    /// A 400 with `scim_type`.
    pub fn bad(scim_type: &'static str, detail: impl Into<String>) -> Self {
        ScimError { status: 400, scim_type: Some(scim_type), detail: detail.into() }
    }
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.scim_type.unwrap_or("-"), self.detail)
    }
}

impl std::error::Error for ScimError {}

/// The core User schema URN.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema URN.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension URN.
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The schema of list responses.
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The schema of PATCH requests.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// The schema of error bodies.
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Schema URNs whose attributes are addressed as `<urn>:<attr>` (they contain dots and
/// colons, so they are matched by prefix before a path is split).
pub const KNOWN_SCHEMAS: &[&str] = &[USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE_SCHEMA];
