//! The API operations the CLI exposes, one table row per operation.
//!
//! Each resource is a subcommand and each operation a sub-subcommand whose positional
//! arguments are the path's `{placeholders}` and whose flags become query parameters or body
//! fields. Paths and fields follow `shared/spec/workos-openapi.yaml`; the few operations the
//! spec lacks (`POST /connections`, `POST /directories`, `…/scim_token`) follow the SDKs and
//! Vestibule's extensions.

use vestibule_client::Method;

/// Where a flag's value goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum At {
    /// A query parameter.
    Query,
    /// A top-level field of the JSON body.
    Body,
}

/// How a flag's value is parsed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Ty {
    /// A string.
    Str,
    /// An integer.
    Int,
    /// `true` or `false`.
    Bool,
    /// A list: repeat the flag or separate with commas (comma-joined in queries).
    Array,
    /// Any JSON value, inline, `@file` or `-` for stdin.
    Json,
}

/// One flag of an operation.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    /// The long flag, e.g. `organization-id`.
    pub flag: &'static str,
    /// The wire name; empty means the flag with `-` turned into `_`.
    pub key: &'static str,
    /// Query or body.
    pub at: At,
    /// Value type.
    pub ty: Ty,
    /// Must be given (by the flag, or in `--data` for body fields).
    pub required: bool,
    /// One-line help.
    pub help: &'static str,
}

impl Param {
    /// The name sent on the wire.
    pub fn wire_name(&self) -> String {
        if self.key.is_empty() { self.flag.replace('-', "_") } else { self.key.to_owned() }
    }

    const fn req(mut self) -> Param {
        self.required = true;
        self
    }

    const fn key(mut self, key: &'static str) -> Param {
        self.key = key;
        self
    }
}

const fn q(flag: &'static str, ty: Ty, help: &'static str) -> Param {
    Param { flag, key: "", at: At::Query, ty, required: false, help }
}

const fn b(flag: &'static str, ty: Ty, help: &'static str) -> Param {
    Param { flag, key: "", at: At::Body, ty, required: false, help }
}

/// What an operation returns, which decides pagination flags and output shape.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Shape {
    /// One object (or nothing, on 204).
    One,
    /// A list envelope, paginated with `limit`/`before`/`after`/`order`.
    List,
}

/// One API operation.
#[derive(Debug)]
pub struct Op {
    /// Subcommand name, e.g. `get`.
    pub name: &'static str,
    /// HTTP method.
    pub method: Method,
    /// Path template, with `{placeholders}` that become positional arguments.
    pub path: &'static str,
    /// One-line description.
    pub about: &'static str,
    /// An example invocation, shown in `--help`.
    pub example: &'static str,
    /// Flags.
    pub params: &'static [Param],
    /// Result shape.
    pub shape: Shape,
}

/// One resource: a group of operations.
#[derive(Debug)]
pub struct Resource {
    /// Subcommand name, e.g. `organizations`.
    pub name: &'static str,
    /// One-line description.
    pub about: &'static str,
    /// Operations.
    pub ops: &'static [Op],
}

impl Op {
    /// The path's placeholders, in order.
    pub fn placeholders(&self) -> impl Iterator<Item = &'static str> {
        self.path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    }

    /// Whether the operation sends a JSON body.
    pub fn has_body(&self) -> bool {
        matches!(self.method, Method::POST | Method::PUT | Method::PATCH)
    }
}

use Shape::*;
use Ty::*;

macro_rules! op {
    ($name:literal, $method:ident $path:literal, $about:literal, $example:literal, $shape:expr, [$($p:expr),* $(,)?]) => {
        Op { name: $name, method: Method::$method, path: $path, about: $about, example: $example, params: &[$($p),*], shape: $shape }
    };
}

const ORG_ID_Q: Param = q("organization-id", Str, "Only this organization's objects.");
const METADATA: Param = b("metadata", Json, "Metadata object (JSON), up to 50 string values.");
const EXTERNAL_ID: Param = b("external-id", Str, "Your own identifier for the object.");

/// Every resource the CLI knows, in `--help` order.
pub static RESOURCES: &[Resource] = &[
    Resource {
        name: "organizations",
        about: "Organizations: the customers of your application.",
        ops: &[
            op!("list", GET "/organizations", "List organizations, newest first.",
                "vestibule organizations list --domains acme.com --limit 20", List,
                [q("domains", Array, "Only organizations with one of these domains."), q("search", Str, "Only organizations whose name contains this.")]),
            op!("get", GET "/organizations/{id}", "Get an organization by id.",
                "vestibule organizations get org_01H…", One, []),
            op!("get-by-external-id", GET "/organizations/external_id/{external_id}", "Get an organization by your external id.",
                "vestibule organizations get-by-external-id acme-1", One, []),
            op!("create", POST "/organizations", "Create an organization.",
                "vestibule organizations create --name Acme --domains acme.com --external-id acme-1", One,
                [b("name", Str, "Display name.").req(), b("domains", Array, "Domains (deprecated by WorkOS in favour of --domain-data)."),
                 b("domain-data", Json, r#"Domains with states, e.g. '[{"domain":"acme.com","state":"verified"}]'."#),
                 EXTERNAL_ID, METADATA,
                 b("allow-profiles-outside-organization", Bool, "Allow SSO profiles whose domain is not the organization's.")]),
            op!("update", PUT "/organizations/{id}", "Update an organization.",
                "vestibule organizations update org_01H… --name 'Acme Inc'", One,
                [b("name", Str, "Display name."), b("domains", Array, "Replace the domains."),
                 b("domain-data", Json, "Replace the domains, with states (JSON array)."), EXTERNAL_ID, METADATA,
                 b("stripe-customer-id", Str, "Stripe customer id."),
                 b("allow-profiles-outside-organization", Bool, "Allow SSO profiles whose domain is not the organization's.")]),
            op!("delete", DELETE "/organizations/{id}", "Delete an organization.",
                "vestibule organizations delete org_01H…", One, []),
        ],
    },
    Resource {
        name: "organization-domains",
        about: "Organization domains and their DNS verification.",
        ops: &[
            op!("create", POST "/organization_domains", "Add a domain to an organization (pending until verified).",
                "vestibule organization-domains create --organization-id org_01H… --domain acme.com", One,
                [b("organization-id", Str, "The organization.").req(), b("domain", Str, "The domain name.").req()]),
            op!("get", GET "/organization_domains/{id}", "Get an organization domain.",
                "vestibule organization-domains get org_domain_01H…", One, []),
            op!("verify", POST "/organization_domains/{id}/verify", "Check the domain's DNS TXT record now.",
                "vestibule organization-domains verify org_domain_01H…", One, []),
            op!("delete", DELETE "/organization_domains/{id}", "Remove an organization domain.",
                "vestibule organization-domains delete org_domain_01H…", One, []),
        ],
    },
    Resource {
        name: "connections",
        about: "SSO connections (SAML, OIDC) of organizations.",
        ops: &[
            op!("list", GET "/connections", "List SSO connections.",
                "vestibule connections list --organization-id org_01H…", List,
                [ORG_ID_Q, q("connection-type", Str, "Only this type, e.g. GenericSAML, OktaSAML, GenericOIDC."),
                 q("domain", Str, "Only connections for this domain."), q("search", Str, "Only connections whose name contains this.")]),
            op!("get", GET "/connections/{id}", "Get a connection.", "vestibule connections get conn_01H…", One, []),
            op!("create", POST "/connections", "Create a connection (SAML or OIDC settings in --data).",
                r#"vestibule connections create --organization-id org_01H… --connection-type GenericSAML --name Okta --data @saml.json"#, One,
                [b("organization-id", Str, "The organization.").req(), b("connection-type", Str, "GenericSAML, GenericOIDC, OktaSAML, …").req(),
                 b("name", Str, "Display name.")]),
            op!("update", PATCH "/connections/{id}", "Update a connection (fields as flags or in --data).",
                "vestibule connections update conn_01H… --name 'Okta (prod)'", One,
                [b("name", Str, "Display name."), b("state", Str, "active or inactive.")]),
            op!("delete", DELETE "/connections/{id}", "Delete a connection.", "vestibule connections delete conn_01H…", One, []),
        ],
    },
    Resource {
        name: "directories",
        about: "Directory Sync directories (SCIM, Google Workspace, …).",
        ops: &[
            op!("list", GET "/directories", "List directories.", "vestibule directories list --organization-id org_01H…", List,
                [ORG_ID_Q, q("search", Str, "Only directories whose name contains this."), q("domain", Str, "Only directories for this domain.")]),
            op!("get", GET "/directories/{id}", "Get a directory.", "vestibule directories get directory_01H…", One, []),
            op!("create", POST "/directories", "Create a SCIM directory; its bearer token is shown once.",
                "vestibule directories create --organization-id org_01H… --name Okta --type 'okta scim v2.0'", One,
                [b("organization-id", Str, "The organization.").req(), b("name", Str, "Display name.").req(),
                 b("type", Str, "Directory type, e.g. 'generic scim v2.0'.")]),
            op!("update", PATCH "/directories/{id}", "Rename a directory or replace its custom attribute mapping (in --data).",
                r#"vestibule directories update directory_01H… --data '{"custom_attribute_mapping": {"badge": "urn:example:ext:1.0:User:badge"}}'"#, One,
                [b("name", Str, "Display name.")]),
            op!("rotate-token", POST "/directories/{id}/scim_token", "Issue a new SCIM bearer token (the old one stops working).",
                "vestibule directories rotate-token directory_01H…", One, []),
            op!("delete", DELETE "/directories/{id}", "Delete a directory with its users and groups.",
                "vestibule directories delete directory_01H…", One, []),
        ],
    },
    Resource {
        name: "directory-users",
        about: "Users provisioned by directories.",
        ops: &[
            op!("list", GET "/directory_users", "List directory users.", "vestibule directory-users list --directory directory_01H…", List,
                [q("directory", Str, "Only this directory's users."), q("group", Str, "Only members of this group.")]),
            op!("get", GET "/directory_users/{id}", "Get a directory user.", "vestibule directory-users get directory_user_01H…", One, []),
        ],
    },
    Resource {
        name: "directory-groups",
        about: "Groups provisioned by directories.",
        ops: &[
            op!("list", GET "/directory_groups", "List directory groups.", "vestibule directory-groups list --directory directory_01H…", List,
                [q("directory", Str, "Only this directory's groups."), q("user", Str, "Only groups this directory user is in.")]),
            op!("get", GET "/directory_groups/{id}", "Get a directory group.", "vestibule directory-groups get directory_group_01H…", One, []),
        ],
    },
    Resource {
        name: "users",
        about: "AuthKit users.",
        ops: &[
            op!("list", GET "/user_management/users", "List users.", "vestibule users list --email ada@example.com", List,
                [ORG_ID_Q, q("email", Str, "Only the user with this email.")]),
            op!("get", GET "/user_management/users/{id}", "Get a user.", "vestibule users get user_01H…", One, []),
            op!("get-by-external-id", GET "/user_management/users/external_id/{external_id}", "Get a user by your external id.",
                "vestibule users get-by-external-id u-42", One, []),
            op!("create", POST "/user_management/users", "Create a user.",
                "vestibule users create --email ada@example.com --first-name Ada --email-verified true", One,
                [b("email", Str, "Email address.").req(), b("first-name", Str, "First name."), b("last-name", Str, "Last name."),
                 b("email-verified", Bool, "Whether the email is verified."), b("password", Str, "Initial password."),
                 b("password-hash", Str, "An imported password hash."), b("password-hash-type", Str, "bcrypt, firebase-scrypt, ssha, scrypt, pbkdf2 or argon2."),
                 EXTERNAL_ID, METADATA]),
            op!("update", PUT "/user_management/users/{id}", "Update a user.", "vestibule users update user_01H… --last-name Lovelace", One,
                [b("email", Str, "Email address."), b("first-name", Str, "First name."), b("last-name", Str, "Last name."),
                 b("email-verified", Bool, "Whether the email is verified."), b("password", Str, "New password."),
                 b("locale", Str, "Preferred locale, e.g. en-US."), EXTERNAL_ID, METADATA]),
            op!("delete", DELETE "/user_management/users/{id}", "Delete a user.", "vestibule users delete user_01H…", One, []),
        ],
    },
    Resource {
        name: "memberships",
        about: "Organization memberships of users, with their roles.",
        ops: &[
            op!("list", GET "/user_management/organization_memberships", "List memberships (needs --user-id or --organization-id).",
                "vestibule memberships list --organization-id org_01H… --statuses active,inactive", List,
                [ORG_ID_Q, q("user-id", Str, "Only this user's memberships."), q("statuses", Array, "active, inactive, pending (default active).")]),
            op!("get", GET "/user_management/organization_memberships/{id}", "Get a membership.", "vestibule memberships get om_01H…", One, []),
            op!("create", POST "/user_management/organization_memberships", "Add a user to an organization.",
                "vestibule memberships create --user-id user_01H… --organization-id org_01H… --role-slug admin", One,
                [b("user-id", Str, "The user.").req(), b("organization-id", Str, "The organization.").req(),
                 b("role-slug", Str, "One role (default member)."), b("role-slugs", Array, "Several roles, when multiple roles are enabled.")]),
            op!("update", PUT "/user_management/organization_memberships/{id}", "Change a membership's roles.",
                "vestibule memberships update om_01H… --role-slug admin", One,
                [b("role-slug", Str, "One role."), b("role-slugs", Array, "Several roles.")]),
            op!("deactivate", PUT "/user_management/organization_memberships/{id}/deactivate", "Deactivate a membership.",
                "vestibule memberships deactivate om_01H…", One, []),
            op!("reactivate", PUT "/user_management/organization_memberships/{id}/reactivate", "Reactivate a membership.",
                "vestibule memberships reactivate om_01H…", One, []),
            op!("delete", DELETE "/user_management/organization_memberships/{id}", "Delete a membership.",
                "vestibule memberships delete om_01H…", One, []),
        ],
    },
    Resource {
        name: "invitations",
        about: "Invitations to sign up or join an organization.",
        ops: &[
            op!("list", GET "/user_management/invitations", "List invitations.", "vestibule invitations list --organization-id org_01H…", List,
                [ORG_ID_Q, q("email", Str, "Only invitations to this email.")]),
            op!("get", GET "/user_management/invitations/{id}", "Get an invitation.", "vestibule invitations get invitation_01H…", One, []),
            op!("get-by-token", GET "/user_management/invitations/by_token/{token}", "Get an invitation by its token.",
                "vestibule invitations get-by-token Z1uX3RbwcIl5fIGJJJCXXisdI", One, []),
            op!("send", POST "/user_management/invitations", "Send an invitation.",
                "vestibule invitations send --email ada@example.com --organization-id org_01H… --role-slug admin", One,
                [b("email", Str, "Who to invite.").req(), b("organization-id", Str, "Invite into this organization."),
                 b("role-slug", Str, "Role on acceptance."), b("expires-in-days", Int, "Days until it expires (1–30, default 7)."),
                 b("inviter-user-id", Str, "The user sending it."), b("locale", Str, "Email locale, e.g. en-US.")]),
            op!("accept", POST "/user_management/invitations/{id}/accept", "Accept an invitation.", "vestibule invitations accept invitation_01H…", One, []),
            op!("resend", POST "/user_management/invitations/{id}/resend", "Send an invitation's email again.",
                "vestibule invitations resend invitation_01H…", One, [b("locale", Str, "Email locale.")]),
            op!("revoke", POST "/user_management/invitations/{id}/revoke", "Revoke an invitation.", "vestibule invitations revoke invitation_01H…", One, []),
        ],
    },
    Resource {
        name: "roles",
        about: "Environment roles (RBAC), in priority order.",
        ops: &[
            op!("list", GET "/authorization/roles", "List environment roles.", "vestibule roles list", List, []),
            op!("get", GET "/authorization/roles/{slug}", "Get a role.", "vestibule roles get admin", One, []),
            op!("create", POST "/authorization/roles", "Create an environment role.",
                "vestibule roles create --slug billing-admin --name 'Billing admin'", One,
                [b("slug", Str, "Unique slug ([a-z0-9_-]).").req(), b("name", Str, "Display name.").req(),
                 b("description", Str, "Description."), b("resource-type-slug", Str, "Resource type the role applies to.")]),
            op!("update", PATCH "/authorization/roles/{slug}", "Update a role.", "vestibule roles update admin --description 'Full access'", One,
                [b("name", Str, "Display name."), b("description", Str, "Description.")]),
            op!("set-permissions", PUT "/authorization/roles/{slug}/permissions", "Replace a role's permissions.",
                "vestibule roles set-permissions admin --permissions posts:read,posts:write", One,
                [b("permissions", Array, "Permission slugs.").req()]),
            op!("add-permission", POST "/authorization/roles/{slug}/permissions", "Add one permission to a role.",
                "vestibule roles add-permission admin --permission posts:delete", One,
                [b("permission", Str, "Permission slug.").req().key("slug")]),
        ],
    },
    Resource {
        name: "organization-roles",
        about: "Custom roles of one organization.",
        ops: &[
            op!("list", GET "/authorization/organizations/{organization_id}/roles", "List an organization's roles (environment and custom).",
                "vestibule organization-roles list org_01H…", List, []),
            op!("get", GET "/authorization/organizations/{organization_id}/roles/{slug}", "Get a role of an organization.",
                "vestibule organization-roles get org_01H… org-auditor", One, []),
            op!("create", POST "/authorization/organizations/{organization_id}/roles", "Create a custom role (slug starts with org-).",
                "vestibule organization-roles create org_01H… --name Auditor", One,
                [b("name", Str, "Display name.").req(), b("slug", Str, "Slug (generated from the name when omitted)."),
                 b("description", Str, "Description."), b("resource-type-slug", Str, "Resource type the role applies to.")]),
            op!("update", PATCH "/authorization/organizations/{organization_id}/roles/{slug}", "Update a custom role.",
                "vestibule organization-roles update org_01H… org-auditor --description 'Read-only'", One,
                [b("name", Str, "Display name."), b("description", Str, "Description.")]),
            op!("delete", DELETE "/authorization/organizations/{organization_id}/roles/{slug}", "Delete a custom role.",
                "vestibule organization-roles delete org_01H… org-auditor", One, []),
            op!("set-permissions", PUT "/authorization/organizations/{organization_id}/roles/{slug}/permissions", "Replace a custom role's permissions.",
                "vestibule organization-roles set-permissions org_01H… org-auditor --permissions logs:read", One,
                [b("permissions", Array, "Permission slugs.").req()]),
            op!("add-permission", POST "/authorization/organizations/{organization_id}/roles/{slug}/permissions", "Add one permission to a custom role.",
                "vestibule organization-roles add-permission org_01H… org-auditor --permission logs:export", One,
                [b("permission", Str, "Permission slug.").req().key("slug")]),
            op!("remove-permission", DELETE "/authorization/organizations/{organization_id}/roles/{slug}/permissions/{permission_slug}",
                "Remove one permission from a custom role.", "vestibule organization-roles remove-permission org_01H… org-auditor logs:export", One, []),
        ],
    },
    Resource {
        name: "permissions",
        about: "Permissions (RBAC).",
        ops: &[
            op!("list", GET "/authorization/permissions", "List permissions.", "vestibule permissions list --all", List, []),
            op!("get", GET "/authorization/permissions/{slug}", "Get a permission.", "vestibule permissions get posts:read", One, []),
            op!("create", POST "/authorization/permissions", "Create a permission.",
                "vestibule permissions create --slug posts:read --name 'Read posts'", One,
                [b("slug", Str, "Unique slug, e.g. posts:read.").req(), b("name", Str, "Display name.").req(),
                 b("description", Str, "Description."), b("resource-type-slug", Str, "Resource type it applies to.")]),
            op!("update", PATCH "/authorization/permissions/{slug}", "Update a permission.",
                "vestibule permissions update posts:read --description 'Read any post'", One,
                [b("name", Str, "Display name."), b("description", Str, "Description.")]),
            op!("delete", DELETE "/authorization/permissions/{slug}", "Delete a permission.", "vestibule permissions delete posts:read", One, []),
        ],
    },
    Resource {
        name: "audit-logs",
        about: "Audit logs: events, actions and their schemas, CSV exports.",
        ops: &[
            op!("create-event", POST "/audit_logs/events", "Record an audit-log event.",
                r#"vestibule audit-logs create-event --organization-id org_01H… --event '{"action":"user.signed_in","occurred_at":"2026-01-01T00:00:00.000Z","actor":{"id":"user_1","type":"user"},"targets":[{"id":"user_1","type":"user"}],"context":{"location":"203.0.113.7"}}'"#, One,
                [b("organization-id", Str, "The organization.").req(), b("event", Json, "The event: action, occurred_at, actor, targets, context, metadata?, version?").req()]),
            op!("actions", GET "/audit_logs/actions", "List audit-log actions.", "vestibule audit-logs actions --all", List, []),
            op!("schemas", GET "/audit_logs/actions/{action_name}/schemas", "List an action's schema versions.",
                "vestibule audit-logs schemas user.signed_in", List, []),
            op!("create-schema", POST "/audit_logs/actions/{action_name}/schemas", "Create a new schema version for an action.",
                r#"vestibule audit-logs create-schema user.signed_in --targets '[{"type":"user"}]'"#, One,
                [b("targets", Json, "Target types, e.g. '[{\"type\":\"user\"}]'.").req(), b("actor", Json, "Actor metadata schema (JSON)."),
                 b("metadata", Json, "Event metadata schema (JSON Schema).")]),
            op!("get-export", GET "/audit_logs/exports/{id}", "Get an export's state (use `export` to create one and download it).",
                "vestibule audit-logs get-export audit_log_export_01H…", One, []),
        ],
    },
    Resource {
        name: "events",
        about: "The Events API: a chronological stream of everything that changed.",
        ops: &[op!("list", GET "/events", "List events, oldest first.",
            "vestibule events list --events organization.created,organization.updated --all --jsonl", List,
            [q("events", Array, "Only these event types."), ORG_ID_Q,
             q("range-start", Str, "Only events at or after this time (ISO-8601, Z)."), q("range-end", Str, "Only events before this time.")])],
    },
    Resource {
        name: "webhooks",
        about: "Webhook endpoints that events are delivered to.",
        ops: &[
            op!("list", GET "/webhook_endpoints", "List webhook endpoints.", "vestibule webhooks list", List, []),
            op!("create", POST "/webhook_endpoints", "Create a webhook endpoint; its signing secret is in the answer.",
                "vestibule webhooks create --endpoint-url https://example.com/hooks --events user.created,dsync.user.created", One,
                [b("endpoint-url", Str, "Where to POST events.").req(), b("events", Array, "Event types to deliver.").req()]),
            op!("update", PATCH "/webhook_endpoints/{id}", "Update a webhook endpoint.",
                "vestibule webhooks update we_01H… --status disabled", One,
                [b("endpoint-url", Str, "Where to POST events."), b("status", Str, "enabled or disabled."), b("events", Array, "Event types to deliver.")]),
            op!("delete", DELETE "/webhook_endpoints/{id}", "Delete a webhook endpoint.", "vestibule webhooks delete we_01H…", One, []),
        ],
    },
];

/// The resource called `name`.
pub fn resource(name: &str) -> Option<&'static Resource> {
    RESOURCES.iter().find(|r| r.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_consistent() {
        for r in RESOURCES {
            for op in r.ops {
                assert!(op.example.starts_with(&format!("vestibule {} {}", r.name, op.name)), "{} {}", r.name, op.name);
                assert!(
                    op.has_body() || op.params.iter().all(|p| p.at == At::Query),
                    "{} {}: body flags on a bodyless method",
                    r.name,
                    op.name
                );
                let mut flags: Vec<_> = op.params.iter().map(|p| p.flag).collect();
                flags.sort_unstable();
                flags.dedup();
                assert_eq!(flags.len(), op.params.len(), "{} {}: duplicate flag", r.name, op.name);
            }
        }
    }
}
