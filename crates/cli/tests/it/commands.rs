//! Happy paths of the client commands for users, memberships, invitations, roles,
//! permissions, webhooks, audit logs, directories (provisioned through their SCIM endpoint)
//! and SSO connections: the real binary against a real `server --dev`,
//! every `--json` answer checked field by field and lists also read back with `--jsonl`.

use serde_json::{Value, json};
use std::process::{Command, Output, Stdio};

use crate::common::{BIN, Server};
const KEY: &str = "sk_test_default";

impl Server {
    /// Runs a client command that must succeed.
    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new(BIN)
            .args(args)
            .env_remove("WORKOS_TOKEN")
            .env_remove("VESTIBULE_PROFILE")
            .env_remove("VESTIBULE_CLIENT_CONFIG")
            .env_remove("VESTIBULE_LOG")
            .env("XDG_CONFIG_HOME", "/nonexistent/vestibule-test")
            .env("WORKOS_API_KEY", KEY)
            .env("WORKOS_BASE_URL", &self.base)
            .stdin(Stdio::null())
            .output()
            .expect("vestibule ran");
        assert_eq!(out.status.code(), Some(0), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    /// `args` plus `--json`: one JSON document.
    fn json(&self, args: &[&str]) -> Value {
        let out = self.run(&[args, &["--json"]].concat());
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
    }

    /// `args` plus `--jsonl`: one compact JSON object per line.
    fn jsonl(&self, args: &[&str]) -> Vec<Value> {
        let out = self.run(&[args, &["--jsonl"]].concat());
        let text = String::from_utf8(out.stdout).expect("UTF-8");
        text.lines()
            .map(|l| {
                assert!(!l.trim().is_empty() && !l.starts_with(' '), "{args:?}: one compact object per line: {text:?}");
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{args:?}: line not JSON ({e}): {l}"))
            })
            .collect()
    }

    /// A command whose answer is a 204: nothing printed.
    fn silent(&self, args: &[&str]) {
        let out = self.run(&[args, &["--json"]].concat());
        assert!(out.stdout.is_empty(), "{args:?} printed {}", String::from_utf8_lossy(&out.stdout));
    }

    /// A command that must fail with exit 1 and the API error `code`.
    fn fails(&self, args: &[&str], status: u64, code: &str) {
        let out = Command::new(BIN)
            .args(args)
            .arg("--json")
            .env("XDG_CONFIG_HOME", "/nonexistent/vestibule-test")
            .env("WORKOS_API_KEY", KEY)
            .env("WORKOS_BASE_URL", &self.base)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let err: Value = serde_json::from_slice(&out.stderr).expect("JSON on stderr");
        assert_eq!(
            (err["error"]["status"].as_u64(), err["error"]["code"].as_str()),
            (Some(status), Some(code)),
            "{err}"
        );
    }
}

fn ids(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["id"].as_str().expect("an id")).collect()
}

fn str_of<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or_else(|| panic!("{field} is a string in {v}"))
}

#[test]
fn users_create_get_update_list_delete() {
    let server = Server::dev();
    let user = server.json(&[
        "users",
        "create",
        "--email",
        "ada@example.com",
        "--first-name",
        "Ada",
        "--last-name",
        "Byron",
        "--email-verified",
        "true",
        "--password",
        "correct horse battery staple",
        "--external-id",
        "u-42",
        "--metadata",
        r#"{"team":"engines"}"#,
    ]);
    let id = str_of(&user, "id").to_owned();
    assert!(id.starts_with("user_"), "{id}");
    assert_eq!(user["object"], "user");
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["first_name"], "Ada");
    assert_eq!(user["last_name"], "Byron");
    assert_eq!(user["email_verified"], true);
    assert_eq!(user["external_id"], "u-42");
    assert_eq!(user["metadata"], json!({"team": "engines"}));
    assert!(user.get("password").is_none() && !user.to_string().contains("correct horse"), "no password in {user}");

    assert_eq!(server.json(&["users", "get", &id]), user);
    assert_eq!(server.json(&["users", "get-by-external-id", "u-42"]), user);

    let updated = server.json(&[
        "users",
        "update",
        &id,
        "--last-name",
        "Lovelace",
        "--locale",
        "en-GB",
        "--metadata",
        r#"{"team":"analytical"}"#,
    ]);
    assert_eq!(updated["id"], id.as_str());
    assert_eq!(
        (&updated["first_name"], &updated["last_name"], &updated["locale"]),
        (&json!("Ada"), &json!("Lovelace"), &json!("en-GB"))
    );
    assert_eq!(updated["metadata"], json!({"team": "analytical"}));
    assert_eq!(
        (&updated["email"], &updated["email_verified"]),
        (&json!("ada@example.com"), &json!(true)),
        "unchanged fields stay"
    );
    assert_eq!(server.json(&["users", "get", &id]), updated);

    let other = server.json(&["users", "create", "--email", "bob@example.com"]);
    assert_eq!((&other["first_name"], &other["email_verified"]), (&Value::Null, &json!(false)));
    let list = server.json(&["users", "list", "--email", "ada@example.com"]);
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"], json!([updated]));
    let lines = server.jsonl(&["users", "list"]);
    assert_eq!(ids(&lines), [str_of(&other, "id"), id.as_str()], "newest first, one per line");
    assert_eq!(lines[1], updated);

    server.silent(&["users", "delete", &id]);
    server.fails(&["users", "get", &id], 404, "entity_not_found");
    assert_eq!(ids(&server.jsonl(&["users", "list", "--all"])), [str_of(&other, "id")]);
}

#[test]
fn memberships_create_get_update_deactivate_reactivate_delete() {
    let server = Server::dev();
    let org = server.json(&["organizations", "create", "--name", "Members Inc"]);
    let org_id = str_of(&org, "id");
    let user = server.json(&["users", "create", "--email", "grace@example.com", "--first-name", "Grace"]);
    let user_id = str_of(&user, "id");
    let admin = server.json(&["roles", "create", "--slug", "admin", "--name", "Admin"]);
    assert_eq!(admin["slug"], "admin");

    let m = server.json(&["memberships", "create", "--user-id", user_id, "--organization-id", org_id]);
    let id = str_of(&m, "id").to_owned();
    assert!(id.starts_with("om_"), "{id}");
    assert_eq!(m["object"], "organization_membership");
    assert_eq!(
        (&m["user_id"], &m["organization_id"], &m["organization_name"]),
        (&json!(user_id), &json!(org_id), &json!("Members Inc"))
    );
    assert_eq!((&m["status"], &m["role"]), (&json!("active"), &json!({"slug": "member"})), "the default role");

    let got = server.json(&["memberships", "get", &id]);
    assert_eq!(
        (&got["id"], &got["user_id"], &got["organization_id"], &got["role"]),
        (&m["id"], &m["user_id"], &m["organization_id"], &m["role"])
    );

    let updated = server.json(&["memberships", "update", &id, "--role-slug", "admin"]);
    assert_eq!(
        (&updated["id"], &updated["role"], &updated["status"]),
        (&json!(id), &json!({"slug": "admin"}), &json!("active"))
    );
    assert_eq!(updated["roles"], json!([{"slug": "admin"}]));

    let deactivated = server.json(&["memberships", "deactivate", &id]);
    assert_eq!(
        (&deactivated["id"], &deactivated["status"], &deactivated["role"]),
        (&json!(id), &json!("inactive"), &json!({"slug": "admin"}))
    );
    assert_eq!(
        server.json(&["memberships", "list", "--organization-id", org_id])["data"],
        json!([]),
        "active only by default"
    );
    let inactive = server.jsonl(&["memberships", "list", "--organization-id", org_id, "--statuses", "active,inactive"]);
    assert_eq!(ids(&inactive), [id.as_str()]);
    assert_eq!((&inactive[0]["status"], &inactive[0]["user_id"]), (&json!("inactive"), &json!(user_id)));

    let reactivated = server.json(&["memberships", "reactivate", &id]);
    assert_eq!((&reactivated["id"], &reactivated["status"]), (&json!(id), &json!("active")));
    let members = server.jsonl(&["users", "list", "--organization-id", org_id]);
    assert_eq!(ids(&members), [user_id], "users list filters by membership");
    let by_user = server.json(&["memberships", "list", "--user-id", user_id]);
    assert_eq!(by_user["object"], "list");
    assert_eq!(ids(by_user["data"].as_array().unwrap()), [id.as_str()]);
    assert_eq!(
        (&by_user["data"][0]["organization_id"], &by_user["data"][0]["status"]),
        (&json!(org_id), &json!("active"))
    );

    server.silent(&["memberships", "delete", &id]);
    server.fails(&["memberships", "get", &id], 404, "entity_not_found");
    assert!(server.jsonl(&["memberships", "list", "--user-id", user_id, "--statuses", "active,inactive"]).is_empty());
}

#[test]
fn invitations_send_get_list_resend_revoke_accept() {
    let server = Server::dev();
    let org = server.json(&["organizations", "create", "--name", "Inviting"]);
    let org_id = str_of(&org, "id");
    let inviter = server.json(&["users", "create", "--email", "host@example.com"]);

    let inv = server.json(&[
        "invitations",
        "send",
        "--email",
        "guest@example.com",
        "--organization-id",
        org_id,
        "--role-slug",
        "member",
        "--expires-in-days",
        "3",
        "--inviter-user-id",
        str_of(&inviter, "id"),
    ]);
    let id = str_of(&inv, "id").to_owned();
    assert!(id.starts_with("invitation_"), "{id}");
    assert_eq!(inv["object"], "invitation");
    assert_eq!(
        (&inv["email"], &inv["state"], &inv["organization_id"]),
        (&json!("guest@example.com"), &json!("pending"), &json!(org_id))
    );
    assert_eq!((&inv["inviter_user_id"], &inv["role_slug"]), (&inviter["id"], &json!("member")));
    assert_eq!(
        (&inv["accepted_at"], &inv["revoked_at"], &inv["accepted_user_id"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    let token = str_of(&inv, "token").to_owned();
    assert!(str_of(&inv, "accept_invitation_url").ends_with(&format!("invitation_token={token}")));
    let days = |ts: &str| ts[..10].to_owned();
    assert!(days(str_of(&inv, "expires_at")) > days(str_of(&inv, "created_at")), "expires after it was created: {inv}");

    assert_eq!(server.json(&["invitations", "get", &id]), inv);
    assert_eq!(server.json(&["invitations", "get-by-token", &token]), inv);
    let listed = server.jsonl(&["invitations", "list", "--organization-id", org_id]);
    assert_eq!(listed, std::slice::from_ref(&inv));
    assert_eq!(server.json(&["invitations", "list", "--email", "guest@example.com"])["data"], json!([inv]));

    let resent = server.json(&["invitations", "resend", &id]);
    assert_eq!(
        (&resent["id"], &resent["state"], &resent["email"]),
        (&json!(id), &json!("pending"), &json!("guest@example.com"))
    );
    let revoked = server.json(&["invitations", "revoke", &id]);
    assert_eq!((&revoked["id"], &revoked["state"]), (&json!(id), &json!("revoked")));
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    assert_eq!(server.json(&["invitations", "get", &id])["state"], "revoked");

    let second = server.json(&["invitations", "send", "--email", "guest@example.com", "--organization-id", org_id]);
    assert_eq!((&second["state"], &second["role_slug"]), (&json!("pending"), &json!("member")));
    let accepted = server.json(&["invitations", "accept", str_of(&second, "id")]);
    assert_eq!((&accepted["id"], &accepted["state"]), (&second["id"], &json!("accepted")));
    assert!(accepted["accepted_at"].is_string(), "{accepted}");
    let user_id = str_of(&accepted, "accepted_user_id");
    assert_eq!(server.json(&["users", "get", user_id])["email"], "guest@example.com");
    let members = server.jsonl(&["memberships", "list", "--organization-id", org_id]);
    assert_eq!(members.len(), 1);
    assert_eq!((&members[0]["user_id"], &members[0]["role"]), (&json!(user_id), &json!({"slug": "member"})));
    assert_eq!(ids(&server.jsonl(&["invitations", "list", "--all"])), [str_of(&second, "id"), id.as_str()]);
}

#[test]
fn permissions_create_get_update_list_delete() {
    let server = Server::dev();
    let p = server.json(&[
        "permissions",
        "create",
        "--slug",
        "posts:read",
        "--name",
        "Read posts",
        "--description",
        "Read any post",
    ]);
    assert_eq!(p["object"], "permission");
    assert!(str_of(&p, "id").starts_with("perm_"), "{p}");
    assert_eq!(
        (&p["slug"], &p["name"], &p["description"], &p["system"]),
        (&json!("posts:read"), &json!("Read posts"), &json!("Read any post"), &json!(false))
    );
    assert_eq!(server.json(&["permissions", "get", "posts:read"]), p);

    let updated = server.json(&[
        "permissions",
        "update",
        "posts:read",
        "--name",
        "Read all posts",
        "--description",
        "Every post",
    ]);
    assert_eq!(
        (&updated["id"], &updated["slug"], &updated["name"], &updated["description"]),
        (&p["id"], &p["slug"], &json!("Read all posts"), &json!("Every post"))
    );
    assert_eq!(server.json(&["permissions", "get", "posts:read"]), updated);

    let write = server.json(&["permissions", "create", "--slug", "posts:write", "--name", "Write posts"]);
    assert_eq!((&write["slug"], &write["description"]), (&json!("posts:write"), &Value::Null));
    let list = server.json(&["permissions", "list"]);
    assert_eq!(list["object"], "list");
    let lines = server.jsonl(&["permissions", "list", "--all"]);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines.contains(&updated) && lines.contains(&write), "{lines:?}");
    assert_eq!(list["data"].as_array().unwrap().len(), 2);

    server.silent(&["permissions", "delete", "posts:write"]);
    server.fails(&["permissions", "get", "posts:write"], 404, "entity_not_found");
    assert_eq!(server.jsonl(&["permissions", "list"]), [updated]);
}

#[test]
fn roles_create_get_update_list_and_their_permissions() {
    let server = Server::dev();
    for (slug, name) in [("posts:read", "Read posts"), ("posts:write", "Write posts"), ("posts:delete", "Delete posts")]
    {
        server.json(&["permissions", "create", "--slug", slug, "--name", name]);
    }
    let role =
        server.json(&["roles", "create", "--slug", "editor", "--name", "Editor", "--description", "Edits posts"]);
    assert_eq!(role["object"], "role");
    assert!(str_of(&role, "id").starts_with("role_"), "{role}");
    assert_eq!(
        (&role["slug"], &role["name"], &role["description"], &role["type"]),
        (&json!("editor"), &json!("Editor"), &json!("Edits posts"), &json!("EnvironmentRole"))
    );
    assert_eq!(role["permissions"], json!([]));
    assert_eq!(server.json(&["roles", "get", "editor"]), role);

    let updated =
        server.json(&["roles", "update", "editor", "--name", "Post editor", "--description", "Edits every post"]);
    assert_eq!(
        (&updated["id"], &updated["slug"], &updated["name"], &updated["description"]),
        (&role["id"], &json!("editor"), &json!("Post editor"), &json!("Edits every post"))
    );

    let with = server.json(&["roles", "set-permissions", "editor", "--permissions", "posts:read,posts:write"]);
    assert_eq!((&with["slug"], &with["permissions"]), (&json!("editor"), &json!(["posts:read", "posts:write"])));
    let added = server.json(&["roles", "add-permission", "editor", "--permission", "posts:delete"]);
    assert_eq!(added["slug"], "editor");
    let sorted = |v: &Value| {
        let mut p: Vec<String> =
            v["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_owned()).collect();
        p.sort();
        p
    };
    assert_eq!(sorted(&added), ["posts:delete", "posts:read", "posts:write"]);
    assert_eq!(server.json(&["roles", "get", "editor"]), added);

    let list = server.json(&["roles", "list"]);
    assert_eq!(list["object"], "list");
    let slugs: Vec<&str> = list["data"].as_array().unwrap().iter().map(|r| str_of(r, "slug")).collect();
    assert!(slugs.contains(&"member") && slugs.contains(&"editor"), "{slugs:?}");
    let lines = server.jsonl(&["roles", "list"]);
    assert_eq!(lines.len(), slugs.len());
    let editor = lines.iter().find(|r| r["slug"] == "editor").expect("editor listed");
    assert_eq!((&editor["id"], &editor["name"]), (&role["id"], &json!("Post editor")));
}

#[test]
fn webhooks_create_list_update_delete() {
    let server = Server::dev();
    let endpoint = server.json(&[
        "webhooks",
        "create",
        "--endpoint-url",
        "http://127.0.0.1:9/hooks",
        "--events",
        "user.created,organization.created",
    ]);
    let id = str_of(&endpoint, "id").to_owned();
    assert!(id.starts_with("we_"), "{id}");
    assert_eq!(endpoint["object"], "webhook_endpoint");
    assert_eq!(
        (&endpoint["endpoint_url"], &endpoint["status"]),
        (&json!("http://127.0.0.1:9/hooks"), &json!("enabled"))
    );
    assert_eq!(endpoint["events"], json!(["user.created", "organization.created"]));
    assert!(str_of(&endpoint, "secret").len() >= 16, "a signing secret: {endpoint}");

    let list = server.json(&["webhooks", "list"]);
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"], json!([endpoint]));

    let updated = server.json(&[
        "webhooks",
        "update",
        &id,
        "--status",
        "disabled",
        "--events",
        "user.deleted",
        "--endpoint-url",
        "http://127.0.0.1:9/v2",
    ]);
    assert_eq!(
        (&updated["id"], &updated["status"], &updated["endpoint_url"]),
        (&json!(id), &json!("disabled"), &json!("http://127.0.0.1:9/v2"))
    );
    assert_eq!((&updated["events"], &updated["secret"]), (&json!(["user.deleted"]), &endpoint["secret"]));
    let second = server.json(&[
        "webhooks",
        "create",
        "--endpoint-url",
        "http://127.0.0.1:9/other",
        "--events",
        "dsync.user.created",
    ]);
    let lines = server.jsonl(&["webhooks", "list", "--all"]);
    assert_eq!(lines.len(), 2);
    assert!(lines.contains(&updated) && lines.contains(&second), "{lines:?}");

    server.silent(&["webhooks", "delete", &id]);
    assert_eq!(server.jsonl(&["webhooks", "list"]), [second]);
    server.fails(&["webhooks", "update", &id, "--status", "enabled"], 404, "entity_not_found");
}

#[test]
fn audit_logs_create_event_actions_and_schemas() {
    let server = Server::dev();
    let org = server.json(&["organizations", "create", "--name", "Audited"]);
    let org_id = str_of(&org, "id");
    let v1 = server.json(&["audit-logs", "create-schema", "document.read", "--targets", r#"[{"type":"document"}]"#]);
    assert_eq!(
        (&v1["object"], &v1["version"], &v1["targets"]),
        (&json!("audit_log_schema"), &json!(1), &json!([{"type": "document"}]))
    );
    let metadata_schema =
        json!({"type": "object", "properties": {"reason": {"type": "string"}}, "required": ["reason"]});
    let v2 = server.json(&[
        "audit-logs",
        "create-schema",
        "document.read",
        "--targets",
        r#"[{"type":"document"},{"type":"folder"}]"#,
        "--metadata",
        &metadata_schema.to_string(),
    ]);
    assert_eq!((&v2["version"], &v2["targets"]), (&json!(2), &json!([{"type": "document"}, {"type": "folder"}])));
    assert!(v2["metadata"].is_object(), "{v2}");
    server.json(&["audit-logs", "create-schema", "user.signed_in", "--targets", r#"[{"type":"user"}]"#]);

    let event = json!({
        "action": "document.read",
        "occurred_at": "2026-01-02T03:04:05.678Z",
        "version": 2,
        "actor": {"id": "user_1", "type": "user", "name": "Ada"},
        "targets": [{"id": "doc_1", "type": "document"}],
        "context": {"location": "203.0.113.7", "user_agent": "commands-test"},
        "metadata": {"reason": "review"},
    });
    assert_eq!(
        server.json(&["audit-logs", "create-event", "--organization-id", org_id, "--event", &event.to_string()]),
        json!({"success": true})
    );
    let mut bad = event.clone();
    bad["metadata"] = json!({"other": "x"});
    let out = Command::new(BIN)
        .args(["audit-logs", "create-event", "--organization-id", org_id, "--event", &bad.to_string(), "--json"])
        .env("WORKOS_API_KEY", KEY)
        .env("WORKOS_BASE_URL", &server.base)
        .env("XDG_CONFIG_HOME", "/nonexistent/vestibule-test")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "the version 2 schema is enforced: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let actions = server.json(&["audit-logs", "actions"]);
    assert_eq!(actions["object"], "list");
    let data = actions["data"].as_array().unwrap();
    let names: Vec<&str> = data.iter().map(|a| str_of(a, "name")).collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"document.read") && names.contains(&"user.signed_in"), "{names:?}");
    let read = data.iter().find(|a| a["name"] == "document.read").unwrap();
    assert_eq!(read["object"], "audit_log_action");
    assert_eq!(read["schema"], v2, "an action carries its latest schema");
    let lines = server.jsonl(&["audit-logs", "actions", "--all"]);
    assert_eq!(lines.iter().map(|a| str_of(a, "name")).collect::<Vec<_>>(), names);

    let schemas = server.json(&["audit-logs", "schemas", "document.read"]);
    assert_eq!(schemas["object"], "list");
    let mut versions: Vec<Value> = schemas["data"].as_array().unwrap().clone();
    versions.sort_by_key(|s| s["version"].as_i64());
    assert_eq!(versions, [v1.clone(), v2.clone()]);
    let mut lines = server.jsonl(&["audit-logs", "schemas", "document.read", "--all"]);
    lines.sort_by_key(|s| s["version"].as_i64());
    assert_eq!(lines, [v1, v2]);
}

#[test]
fn directories_their_users_and_groups() {
    let server = Server::dev();
    let org = server.json(&["organizations", "create", "--name", "Acme"]);
    let org_id = str_of(&org, "id");
    let dir = server.json(&[
        "directories",
        "create",
        "--organization-id",
        org_id,
        "--name",
        "Okta",
        "--type",
        "okta scim v2.0",
    ]);
    let dir_id = str_of(&dir, "id").to_owned();
    assert!(dir_id.starts_with("directory_"), "{dir}");
    assert_eq!(
        (&dir["organization_id"], &dir["name"], &dir["type"]),
        (&json!(org_id), &json!("Okta"), &json!("okta scim v2.0"))
    );
    let endpoint = str_of(&dir["scim"], "endpoint").to_owned();
    let token = str_of(&dir["scim"], "bearer_token").to_owned();
    let listed = server.jsonl(&["directories", "list", "--organization-id", org_id]);
    assert_eq!(ids(&listed), [dir_id.as_str()]);
    let got = server.json(&["directories", "get", &dir_id]);
    assert_eq!((&got["id"], &got["name"]), (&json!(dir_id), &json!("Okta")));
    assert!(!got.to_string().contains(&token), "the token is shown once");

    // Provision through the SCIM endpoint with the client's own `request`, authenticated by the token.
    let path = endpoint.split_once("/scim/").map(|(_, p)| format!("/scim/{p}")).expect("endpoint path");
    let scim = |method: &str, rel: &str, body: Value| -> Value {
        let out = Command::new(BIN)
            .args(["request", method, &format!("{path}{rel}"), "--data", &body.to_string(), "--json"])
            .env("XDG_CONFIG_HOME", "/nonexistent/vestibule-test")
            .env("WORKOS_API_KEY", &token)
            .env("WORKOS_BASE_URL", &server.base)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{method} {rel}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let scim_user = scim(
        "POST",
        "/Users",
        json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@acme.com", "externalId": "okta-1",
        "name": {"givenName": "Ada", "familyName": "Lovelace"}, "emails": [{"value": "ada@acme.com", "type": "work", "primary": true}], "active": true}),
    );
    let scim_group = scim(
        "POST",
        "/Groups",
        json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineers", "members": [{"value": scim_user["id"]}]}),
    );
    assert_eq!(scim_group["displayName"], "Engineers");

    let users = server.jsonl(&["directory-users", "list", "--directory", &dir_id]);
    assert_eq!(users.len(), 1);
    let user = &users[0];
    assert_eq!(
        (&user["first_name"], &user["last_name"], &user["state"]),
        (&json!("Ada"), &json!("Lovelace"), &json!("active"))
    );
    assert_eq!(user["emails"][0]["value"], "ada@acme.com");
    let user_id = str_of(user, "id").to_owned();
    assert!(user_id.starts_with("directory_user_"), "{user}");
    assert_eq!(server.json(&["directory-users", "get", &user_id])["id"], user_id.as_str());
    let groups = server.jsonl(&["directory-groups", "list", "--directory", &dir_id]);
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["name"], "Engineers");
    let group_id = str_of(&groups[0], "id").to_owned();
    assert_eq!(ids(&server.jsonl(&["directory-groups", "list", "--user", &user_id])), [group_id.as_str()]);
    assert_eq!(ids(&server.jsonl(&["directory-users", "list", "--group", &group_id])), [user_id.as_str()]);
    assert_eq!(server.json(&["directory-groups", "get", &group_id])["name"], "Engineers");

    let rotated = server.json(&["directories", "rotate-token", &dir_id]);
    let new_token = str_of(&rotated["scim"], "bearer_token");
    assert_ne!(new_token, token, "a new token");
    server.silent(&["directories", "delete", &dir_id]);
    server.fails(&["directories", "get", &dir_id], 404, "entity_not_found");
    server.fails(&["directory-users", "get", &user_id], 404, "entity_not_found");
}

#[test]
fn connections_create_get_update_list_delete() {
    let server = Server::dev();
    let org = server.json(&["organizations", "create", "--name", "Acme"]);
    let org_id = str_of(&org, "id");
    let saml =
        json!({"saml": {"idp_entity_id": "https://idp.example/acme", "idp_sso_url": "https://idp.example/acme/sso"}});
    let conn = server.json(&[
        "connections",
        "create",
        "--organization-id",
        org_id,
        "--connection-type",
        "GenericSAML",
        "--name",
        "Okta",
        "--data",
        &saml.to_string(),
    ]);
    let id = str_of(&conn, "id").to_owned();
    assert!(id.starts_with("conn_"), "{conn}");
    assert_eq!(
        (&conn["organization_id"], &conn["connection_type"], &conn["name"]),
        (&json!(org_id), &json!("GenericSAML"), &json!("Okta"))
    );
    assert_ne!(conn["state"], "active", "no IdP certificate yet: {conn}");
    assert!(str_of(&conn["saml"], "acs_url").starts_with(&server.base), "{conn}");
    assert_eq!(server.json(&["connections", "get", &id])["name"], "Okta");
    let renamed = server.json(&["connections", "update", &id, "--name", "Okta (prod)"]);
    assert_eq!((&renamed["id"], &renamed["name"]), (&json!(id), &json!("Okta (prod)")));
    assert_eq!(ids(&server.jsonl(&["connections", "list", "--organization-id", org_id])), [id.as_str()]);
    assert_eq!(ids(&server.jsonl(&["connections", "list", "--connection-type", "GenericOIDC"])), Vec::<&str>::new());
    server.silent(&["connections", "delete", &id]);
    server.fails(&["connections", "get", &id], 404, "entity_not_found");
}

/// `vestibule seed check` lists every problem of a seed file in sentences and fails; a
/// good file passes. Nothing is started.
#[test]
fn seed_check_explains_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "organizations:\n  - name: Acme\n    colour: red\nconnections: []\napiKeys:\n  - value: sk_test_expired_key_1\n    expiresAt: 2020-01-01\n",
    )
    .unwrap();
    let out =
        std::process::Command::new(crate::common::BIN).args(["seed", "check", bad.to_str().unwrap()]).output().unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("organizations[0].colour: organizations[0].colour is not a key this seed format has."),
        "{text}"
    );
    assert!(text.contains("connections: connections: SSO connections are not seeded yet"), "{text}");
    assert!(text.contains("apiKeys[0].expiresAt"), "{text}");
    let good = dir.path().join("good.yaml");
    std::fs::write(
        &good,
        "organizations:\n  - name: Acme\n    domains: [acme.com]\napiKeys:\n  - value: sk_test_seeded_key_1\n",
    )
    .unwrap();
    let out = std::process::Command::new(crate::common::BIN)
        .args(["seed", "check", good.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).ends_with(": ok\n"));
}
