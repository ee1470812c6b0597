//! Users, memberships, roles, permissions and invitations through the real router:
//! status codes and bodies of the happy paths and of conflicts and bad input.

use reqwest::Method;
use serde_json::{Value, json};
use vestibule_test_support::{Backend, TestDb, TestServer, sqlite_server};

fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

async fn count(s: &TestServer, path: &str) -> usize {
    let (status, body) = s.call(Method::GET, path, None).await;
    assert_eq!(status, 200, "{path}: {body}");
    body["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn users_crud_and_conflicts() {
    let (_db, s) = sqlite_server().await;
    let (status, user) = s
        .call(
            Method::POST,
            "/user_management/users",
            Some(json!({"email": "Ada@Example.com", "password": "correct horse battery", "first_name": "Ada"})),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    for field in [
        "id",
        "email",
        "email_verified",
        "first_name",
        "last_name",
        "profile_picture_url",
        "external_id",
        "last_sign_in_at",
        "created_at",
        "updated_at",
    ] {
        assert!(user.get(field).is_some(), "required field {field} present (null allowed)");
    }
    assert!(user.get("password").is_none() && !user.to_string().contains("argon2"), "no password material leaves");
    let id = user["id"].as_str().unwrap();
    let (status, body) =
        s.call(Method::POST, "/user_management/users", Some(json!({"email": "ada@example.com"}))).await;
    assert_eq!((status, code(&body)), (400, "user_creation_error"));
    let (status, body) = s
        .call(
            Method::POST,
            "/user_management/users",
            Some(json!({"email": "long@example.com", "password": "p".repeat(200)})),
        )
        .await;
    assert_eq!((status, code(&body)), (400, "password_strength_error"));
    let (status, body) = s.call(Method::POST, "/user_management/users", Some(json!({"email": "not-an-email"}))).await;
    assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("email")));
    let (status, body) = s.call(Method::POST, "/user_management/users", Some(json!({"email": "both@example.com", "password": "correct horse", "password_hash": "x", "password_hash_type": "bcrypt"}))).await;
    assert_eq!((status, code(&body)), (400, "password_and_password_hash_provided"));
    assert_eq!(count(&s, "/user_management/users").await, 1, "nothing created by the failures");
    let (status, updated) = s
        .call(
            Method::PUT,
            &format!("/user_management/users/{id}"),
            Some(json!({"last_name": "Lovelace", "external_id": "u-1"})),
        )
        .await;
    assert_eq!((status, updated["last_name"].as_str()), (200, Some("Lovelace")));
    let (status, got) = s.call(Method::GET, "/user_management/users/external_id/u-1", None).await;
    assert_eq!((status, got["id"].as_str()), (200, Some(id)));
    assert_eq!(count(&s, "/user_management/users?email=ADA%40example.com").await, 1);
    assert_eq!(s.call(Method::DELETE, &format!("/user_management/users/{id}"), None).await.0, 204);
    assert_eq!(s.call(Method::GET, &format!("/user_management/users/{id}"), None).await.0, 404);
    s.stop().await;
}

#[tokio::test]
async fn memberships_roles_permissions_and_check() {
    let (_db, s) = sqlite_server().await;
    let (_, org) = s.call(Method::POST, "/organizations", Some(json!({"name": "Acme"}))).await;
    let org_id = org["id"].as_str().unwrap();
    let (_, user) = s.call(Method::POST, "/user_management/users", Some(json!({"email": "m@example.com"}))).await;
    let user_id = user["id"].as_str().unwrap();
    let (status, perm) = s
        .call(Method::POST, "/authorization/permissions", Some(json!({"slug": "posts:write", "name": "Write posts"})))
        .await;
    assert_eq!((status, perm["object"].as_str()), (201, Some("permission")));
    let (status, body) =
        s.call(Method::POST, "/authorization/permissions", Some(json!({"slug": "posts:write", "name": "dup"}))).await;
    assert_eq!((status, code(&body)), (409, "permission_slug_conflict"));
    let (status, got) = s.call(Method::GET, "/authorization/permissions/posts%3Awrite", None).await;
    assert_eq!((status, got["slug"].as_str()), (200, Some("posts:write")), "encoded slugs are decoded after routing");
    let (status, role) =
        s.call(Method::POST, "/authorization/roles", Some(json!({"slug": "editor", "name": "Editor"}))).await;
    assert_eq!((status, role["type"].as_str()), (201, Some("EnvironmentRole")));
    let (status, role) =
        s.call(Method::POST, "/authorization/roles/editor/permissions", Some(json!({"slug": "posts:write"}))).await;
    assert_eq!((status, role["permissions"].clone()), (200, json!(["posts:write"])));
    let (status, body) = s
        .call(Method::PUT, "/authorization/roles/editor/permissions", Some(json!({"permissions": ["nope:nope"]})))
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, roles) = s.call(Method::GET, "/authorization/roles", None).await;
    assert_eq!(status, 200);
    assert!(roles.get("list_metadata").is_none());
    let slugs: Vec<&str> = roles["data"].as_array().unwrap().iter().map(|r| r["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs, ["member", "editor"], "priority order, default role first");

    let (status, m) = s
        .call(
            Method::POST,
            "/user_management/organization_memberships",
            Some(json!({"user_id": user_id, "organization_id": org_id})),
        )
        .await;
    assert_eq!(status, 201, "{m}");
    assert_eq!((m["role"].clone(), m["roles"].clone()), (json!({"slug": "member"}), json!([{"slug": "member"}])));
    assert_eq!(m["user"]["id"].as_str(), Some(user_id));
    assert_eq!(m["organization_name"], "Acme");
    let m_id = m["id"].as_str().unwrap();
    let check_path = format!("/authorization/organization_memberships/{m_id}/check");
    let check = |perm: &'static str| s.call(Method::POST, &check_path, Some(json!({"permission_slug": perm})));
    assert_eq!(check("posts:write").await.1, json!({"authorized": false}));
    let (status, m) = s
        .call(
            Method::PUT,
            &format!("/user_management/organization_memberships/{m_id}"),
            Some(json!({"role_slug": "editor"})),
        )
        .await;
    assert_eq!((status, m["role"]["slug"].as_str()), (200, Some("editor")));
    assert_eq!(check("posts:write").await.1, json!({"authorized": true}));
    let (status, body) = s
        .call(
            Method::PUT,
            &format!("/user_management/organization_memberships/{m_id}"),
            Some(json!({"role_slug": "ghost"})),
        )
        .await;
    assert_eq!((status, code(&body)), (422, "invalid_role"));
    let (status, body) = s
        .call(
            Method::POST,
            "/user_management/organization_memberships",
            Some(json!({"user_id": user_id, "organization_id": "org_01MISSINGMISSINGMISSINGMIS"})),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = s
        .call(
            Method::POST,
            "/user_management/organization_memberships",
            Some(json!({"user_id": user_id, "organization_id": org_id})),
        )
        .await;
    assert_eq!((status, code(&body)), (409, "organization_membership_already_exists"));
    let (status, m) =
        s.call(Method::PUT, &format!("/user_management/organization_memberships/{m_id}/deactivate"), None).await;
    assert_eq!((status, m["status"].as_str()), (200, Some("inactive")));
    assert_eq!(count(&s, &format!("/user_management/organization_memberships?organization_id={org_id}")).await, 0);
    assert_eq!(
        count(
            &s,
            &format!("/user_management/organization_memberships?organization_id={org_id}&statuses=inactive,active")
        )
        .await,
        1
    );
    let (status, body) = s.call(Method::GET, "/user_management/organization_memberships", None).await;
    assert_eq!((status, code(&body)), (400, "missing_user_id_or_organization_id"));
    let (status, m) =
        s.call(Method::PUT, &format!("/user_management/organization_memberships/{m_id}/reactivate"), None).await;
    assert_eq!((status, m["status"].as_str()), (200, Some("active")));

    // Organization roles: an override of `editor` without the permission, and a new role.
    let path = format!("/authorization/organizations/{org_id}/roles");
    let (status, r) = s.call(Method::POST, &path, Some(json!({"slug": "editor", "name": "Acme editor"}))).await;
    assert_eq!((status, r["type"].as_str()), (201, Some("OrganizationRole")));
    assert_eq!(check("posts:write").await.1, json!({"authorized": false}), "the organization's editor overrides");
    let (_, r) = s.call(Method::POST, &path, Some(json!({"name": "Auditors"}))).await;
    assert_eq!(r["slug"], "org-auditors");
    let (_, list) = s.call(Method::GET, &path, None).await;
    let kinds: Vec<(&str, &str)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["slug"].as_str().unwrap(), r["type"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [("member", "EnvironmentRole"), ("editor", "OrganizationRole"), ("org-auditors", "OrganizationRole")]
    );
    let (status, body) = s.call(Method::DELETE, &format!("{path}/editor"), None).await;
    assert_eq!((status, code(&body)), (409, "role_has_assignments"));
    assert_eq!(s.call(Method::DELETE, &format!("{path}/org-auditors"), None).await.0, 204);
    assert_eq!(s.call(Method::DELETE, "/authorization/permissions/posts%3Awrite", None).await.0, 204);
    assert_eq!(s.call(Method::DELETE, &format!("/user_management/organization_memberships/{m_id}"), None).await.0, 204);

    let (_, events) = s.call(Method::GET, "/events?limit=100", None).await;
    let names: Vec<&str> = events["data"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    for expected in [
        "permission.created",
        "role.created",
        "role.updated",
        "organization_membership.created",
        "organization_membership.updated",
        "organization_role.created",
        "organization_role.deleted",
        "permission.deleted",
        "organization_membership.deleted",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    s.stop().await;
}

#[tokio::test]
async fn invitations_mail_accept_and_refusals() {
    let db = TestDb::new(Backend::Sqlite).await;
    let s = TestServer::start(&db.url, |_| {}).await;
    let (_, org) = s.call(Method::POST, "/organizations", Some(json!({"name": "Acme"}))).await;
    let org_id = org["id"].as_str().unwrap();
    let (status, inv) = s
        .call(
            Method::POST,
            "/user_management/invitations",
            Some(json!({"email": "new@example.com", "organization_id": org_id})),
        )
        .await;
    assert_eq!(status, 201, "{inv}");
    assert_eq!((inv["state"].as_str(), inv["role_slug"].as_str()), (Some("pending"), Some("member")));
    let token = inv["token"].as_str().unwrap();
    assert!(token.len() >= 32);
    // The dev mailbox holds the message once the worker has run.
    let mail = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let (_, mails) = s.call(Method::GET, "/_dev/emails?to=new@example.com", None).await;
            if let Some(m) = mails["data"].as_array().unwrap().first() {
                break m.clone();
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the invitation mail reaches the dev mailbox");
    assert!(mail["body"].as_str().unwrap().contains(token));
    let (status, by_token) = s.call(Method::GET, &format!("/user_management/invitations/by_token/{token}"), None).await;
    assert_eq!((status, by_token["id"].clone()), (200, inv["id"].clone()));
    let (status, body) = s
        .call(
            Method::POST,
            "/user_management/invitations",
            Some(json!({"email": "new@example.com", "organization_id": org_id})),
        )
        .await;
    assert_eq!((status, code(&body)), (400, "email_already_invited_to_organization"));
    let (status, body) = s
        .call(
            Method::POST,
            "/user_management/invitations",
            Some(json!({"email": "x@example.com", "organization_id": org_id, "role_slug": "ghost"})),
        )
        .await;
    assert_eq!((status, code(&body)), (400, "invalid_role"));
    let inv_id = inv["id"].as_str().unwrap();
    let (status, accepted) = s.call(Method::POST, &format!("/user_management/invitations/{inv_id}/accept"), None).await;
    assert_eq!((status, accepted["state"].as_str()), (200, Some("accepted")));
    let user_id = accepted["accepted_user_id"].as_str().unwrap();
    assert_eq!(count(&s, &format!("/user_management/organization_memberships?user_id={user_id}")).await, 1);
    let (status, body) = s.call(Method::POST, &format!("/user_management/invitations/{inv_id}/accept"), None).await;
    assert_eq!((status, code(&body)), (400, "invite_not_pending"));

    // Expired and revoked invitations cannot be accepted, and nothing is created.
    let (_, old) = s
        .call(
            Method::POST,
            "/user_management/invitations",
            Some(json!({"email": "late@example.com", "organization_id": org_id})),
        )
        .await;
    let old_id = old["id"].as_str().unwrap();
    vestibule_test_support::execute_sql(
        &db.url,
        &format!("UPDATE invitations SET expires_at = 0 WHERE id = '{old_id}'"),
    )
    .await;
    let (_, got) = s.call(Method::GET, &format!("/user_management/invitations/{old_id}"), None).await;
    assert_eq!(got["state"], "expired");
    let (status, body) = s.call(Method::POST, &format!("/user_management/invitations/{old_id}/accept"), None).await;
    assert_eq!((status, code(&body)), (400, "invite_not_pending"));
    let (_, rev) = s
        .call(
            Method::POST,
            "/user_management/invitations",
            Some(json!({"email": "rev@example.com", "organization_id": org_id})),
        )
        .await;
    let rev_id = rev["id"].as_str().unwrap();
    let (status, revoked) = s.call(Method::POST, &format!("/user_management/invitations/{rev_id}/revoke"), None).await;
    assert_eq!((status, revoked["state"].as_str()), (200, Some("revoked")));
    let (status, body) = s.call(Method::POST, &format!("/user_management/invitations/{rev_id}/accept"), None).await;
    assert_eq!((status, code(&body)), (400, "invite_not_pending"));
    assert_eq!(count(&s, "/user_management/users").await, 1, "only the accepted invitation created a user");
    s.stop().await;
}
