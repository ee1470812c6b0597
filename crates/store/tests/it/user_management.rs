//! Conformance for users, memberships, roles and permissions, invitations and the mail
//! outbox, run on SQLite and PostgreSQL like `conformance.rs`.

use serde_json::json;
use std::sync::Arc;
use vestibule_core::environments::{Environment, EnvironmentKind};
use vestibule_core::events::EventFilter;
use vestibule_core::kernel::pagination::PageRequest;
use vestibule_core::user_management::memberships::MembershipFilter;
use vestibule_core::user_management::users::UserFilter;
use vestibule_core::{CoreError, Store, Timestamp, Vestibule};
use vestibule_test_support::app;

async fn env(app: &Vestibule) -> Environment {
    app.create_environment("A", EnvironmentKind::Test, None).await.unwrap()
}

fn page(limit: u32) -> PageRequest {
    PageRequest { limit, ..Default::default() }
}

async fn event_names(app: &Vestibule, env: &str) -> Vec<String> {
    app.list_events(env, EventFilter { limit: 100, ..Default::default() })
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect()
}

async fn users_are_unique_by_email_and_hash_passwords(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app).await;
    let u = app
        .create_user(
            &e.id,
            &json!({"email": " Ada@Example.com ", "password": "a long passphrase", "first_name": "Ada"}),
        )
        .await
        .unwrap();
    assert_eq!(u.email, "ada@example.com");
    let stored = store.get_user(&e.id, &u.id).await.unwrap().unwrap();
    let pw = stored.password.expect("password stored");
    assert!(pw.hash.starts_with("$argon2id$") && !pw.hash.contains("passphrase"));
    let dup = app.create_user(&e.id, &json!({"email": "ADA@example.com"})).await;
    assert!(matches!(dup, Err(CoreError::Refused { code: "user_creation_error", .. })), "{dup:?}");
    let long = app.create_user(&e.id, &json!({"email": "long@example.com", "password": "x".repeat(129)})).await;
    assert!(matches!(long, Err(CoreError::Refused { code: "password_strength_error", .. })));
    let imported = app
        .create_user(&e.id, &json!({"email": "imp@example.com", "password_hash": "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234", "password_hash_type": "bcrypt"}))
        .await
        .unwrap();
    assert_eq!(store.get_user(&e.id, &imported.id).await.unwrap().unwrap().password.unwrap().kind, "bcrypt");
    let updated = app
        .update_user(&e.id, &u.id, &json!({"last_name": "Lovelace", "email_verified": true, "metadata": {"k": "v"}}))
        .await
        .unwrap();
    assert_eq!((updated.last_name.as_deref(), updated.email_verified), (Some("Lovelace"), true));
    let found = app
        .list_users(&e.id, UserFilter { email: Some("ADA@example.com".into()), ..Default::default() }, page(10))
        .await
        .unwrap();
    assert_eq!(found.data.len(), 1);
    assert_eq!(
        app.list_users(&e.id, UserFilter::default(), page(10)).await.unwrap().data.len(),
        2,
        "the failed creates left nothing"
    );
    app.delete_user(&e.id, &u.id).await.unwrap();
    assert!(matches!(app.get_user(&e.id, &u.id).await, Err(CoreError::NotFound { .. })));
    assert_eq!(event_names(&app, &e.id).await, ["user.created", "user.created", "user.updated", "user.deleted"]);
}

async fn memberships_roles_and_effective_permissions(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app).await;
    let org = app.create_organization(&e.id, &json!({"name": "Acme"})).await.unwrap();
    let other = app.create_organization(&e.id, &json!({"name": "Other"})).await.unwrap();
    let u = app.create_user(&e.id, &json!({"email": "m@example.com"})).await.unwrap();
    for slug in ["posts:read", "posts:write", "billing:manage"] {
        app.create_permission(&e.id, &json!({"slug": slug, "name": slug})).await.unwrap();
    }
    app.set_role_permissions(&e.id, None, "member", &json!({"permissions": ["posts:read"]})).await.unwrap();
    app.create_role(
        &e.id,
        None,
        &json!({"slug": "admin", "name": "Admin", "permissions": ["posts:read", "posts:write"]}),
    )
    .await
    .unwrap();
    // Acme overrides `admin` and adds its own billing role.
    app.create_role(
        &e.id,
        Some(&org.id),
        &json!({"slug": "admin", "name": "Acme Admin", "permissions": ["posts:read"]}),
    )
    .await
    .unwrap();
    let billing = app.create_role(&e.id, Some(&org.id), &json!({"name": "Billing"})).await.unwrap();
    assert_eq!(billing.slug, "org-billing");
    app.add_role_permission(&e.id, Some(&org.id), "org-billing", &json!({"slug": "billing:manage"})).await.unwrap();
    let roles: Vec<_> =
        app.list_roles(&e.id, Some(&org.id)).await.unwrap().into_iter().map(|r| (r.slug, r.kind)).collect();
    assert_eq!(
        roles,
        [
            ("member".to_string(), "EnvironmentRole"),
            ("admin".into(), "OrganizationRole"),
            ("org-billing".into(), "OrganizationRole")
        ]
    );
    assert!(app.create_role(&e.id, None, &json!({"slug": "admin", "name": "dup"})).await.is_err());

    let m = app
        .create_membership(
            &e.id,
            &json!({"user_id": u.id, "organization_id": org.id, "role_slugs": ["admin", "org-billing"]}),
        )
        .await
        .unwrap();
    assert_eq!(m.role.slug, "admin");
    assert_eq!(m.user.as_ref().map(|u| u.id.as_str()), Some(u.id.as_str()));
    let perms = app.effective_permissions(&e.id, &org.id, &m.role_slugs()).await.unwrap();
    assert_eq!(
        perms.into_iter().collect::<Vec<_>>(),
        ["billing:manage", "posts:read"],
        "Acme's admin overrides the environment's"
    );
    let m2 = app
        .create_membership(&e.id, &json!({"user_id": u.id, "organization_id": other.id, "role_slug": "admin"}))
        .await
        .unwrap();
    let perms = app.effective_permissions(&e.id, &other.id, &m2.role_slugs()).await.unwrap();
    assert_eq!(perms.into_iter().collect::<Vec<_>>(), ["posts:read", "posts:write"]);
    assert!(app.check_permission(&e.id, &m2.id, &json!({"permission_slug": "posts:write"})).await.unwrap());
    assert!(!app.check_permission(&e.id, &m.id, &json!({"permission_slug": "posts:write"})).await.unwrap());

    let bad_role =
        app.create_membership(&e.id, &json!({"user_id": u.id, "organization_id": org.id, "role_slug": "nope"})).await;
    assert!(matches!(bad_role, Err(CoreError::Unusable { code: "invalid_role", .. })), "{bad_role:?}");
    let dup = app.create_membership(&e.id, &json!({"user_id": u.id, "organization_id": org.id})).await;
    assert!(matches!(dup, Err(CoreError::Conflict { .. })), "{dup:?}");
    let missing_org = app.create_membership(&e.id, &json!({"user_id": u.id, "organization_id": "org_missing"})).await;
    assert!(matches!(missing_org, Err(CoreError::NotFound { .. })));

    let in_use = app.delete_organization_role(&e.id, &org.id, "org-billing").await;
    assert!(matches!(in_use, Err(CoreError::Conflict { code: "role_has_assignments", .. })), "{in_use:?}");
    app.update_membership(&e.id, &m.id, &json!({"role_slug": "member"})).await.unwrap();
    app.delete_organization_role(&e.id, &org.id, "org-billing").await.unwrap();

    let off = app.deactivate_membership(&e.id, &m.id).await.unwrap();
    assert_eq!(off.status, "inactive");
    let active = app
        .list_memberships(&e.id, MembershipFilter { user_id: Some(u.id.clone()), ..Default::default() }, page(10))
        .await
        .unwrap();
    assert_eq!(active.data.len(), 1, "only active memberships by default");
    let all = MembershipFilter {
        user_id: Some(u.id.clone()),
        statuses: vec!["active".into(), "inactive".into()],
        ..Default::default()
    };
    assert_eq!(app.list_memberships(&e.id, all, page(10)).await.unwrap().data.len(), 2);
    assert_eq!(app.reactivate_membership(&e.id, &m.id).await.unwrap().status, "active");
    assert!(matches!(
        app.list_memberships(&e.id, MembershipFilter::default(), page(10)).await,
        Err(CoreError::Refused { code: "missing_user_id_or_organization_id", .. })
    ));
    let by_org = app
        .list_users(&e.id, UserFilter { organization_id: Some(org.id.clone()), ..Default::default() }, page(10))
        .await
        .unwrap();
    assert_eq!(by_org.data.len(), 1);
    app.delete_permission(&e.id, "posts:read").await.unwrap();
    assert!(
        !app.get_role(&e.id, None, "member").await.unwrap().permissions.contains(&"posts:read".to_string()),
        "deleted permissions leave roles"
    );
    app.delete_membership(&e.id, &m2.id).await.unwrap();
    app.delete_user(&e.id, &u.id).await.unwrap();
    assert!(
        matches!(app.get_membership(&e.id, &m.id).await, Err(CoreError::NotFound { .. })),
        "memberships go with their user"
    );
}

async fn invitations_are_single_use_and_create_memberships(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app).await;
    let org = app.create_organization(&e.id, &json!({"name": "Acme"})).await.unwrap();
    app.create_role(&e.id, None, &json!({"slug": "admin", "name": "Admin"})).await.unwrap();
    let inv = app
        .create_invitation(&e.id, &json!({"email": "new@example.com", "organization_id": org.id, "role_slug": "admin"}))
        .await
        .unwrap();
    assert_eq!(inv.state, "pending");
    assert!(inv.accept_invitation_url.contains(&inv.token));
    let queued = store.claim_mail(Timestamp::now(), 60_000, 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].to, "new@example.com");
    assert!(queued[0].body.contains(&inv.token));
    assert!(store.claim_mail(Timestamp::now(), 60_000, 10).await.unwrap().is_empty(), "a claimed message is leased");
    store.mark_mail_sent(&queued[0].id, Timestamp::now()).await.unwrap();
    let again = app.create_invitation(&e.id, &json!({"email": "new@example.com", "organization_id": org.id})).await;
    assert!(
        matches!(again, Err(CoreError::Refused { code: "email_already_invited_to_organization", .. })),
        "{again:?}"
    );
    assert_eq!(app.get_invitation_by_token(&e.id, &inv.token).await.unwrap().id, inv.id);
    let accepted = app.accept_invitation(&e.id, &inv.id).await.unwrap();
    assert_eq!(accepted.state, "accepted");
    let user_id = accepted.accepted_user_id.clone().unwrap();
    let ms = app
        .list_memberships(&e.id, MembershipFilter { user_id: Some(user_id), ..Default::default() }, page(10))
        .await
        .unwrap();
    assert_eq!((ms.data.len(), ms.data[0].role.slug.as_str()), (1, "admin"));
    let twice = app.accept_invitation(&e.id, &inv.id).await;
    assert!(matches!(twice, Err(CoreError::Refused { code: "invite_not_pending", .. })), "single use: {twice:?}");
    let revoked =
        app.create_invitation(&e.id, &json!({"email": "gone@example.com", "organization_id": org.id})).await.unwrap();
    app.revoke_invitation(&e.id, &revoked.id).await.unwrap();
    let after_revoke = app.accept_invitation(&e.id, &revoked.id).await;
    assert!(matches!(after_revoke, Err(CoreError::Refused { code: "invite_not_pending", .. })));
    assert!(matches!(
        app.create_invitation(&e.id, &json!({"email": "x@example.com", "expires_in_days": 31})).await,
        Err(CoreError::Refused { code: "expires_in_days_too_long", .. })
    ));
    let names = event_names(&app, &e.id).await;
    let tail: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| n.starts_with("invitation") || n.starts_with("organization_membership") || n.starts_with("user"))
        .collect();
    assert_eq!(
        tail,
        [
            "invitation.created",
            "invitation.accepted",
            "user.created",
            "organization_membership.created",
            "invitation.created",
            "invitation.revoked"
        ]
    );
}

async fn mail_failures_are_retried_then_given_up(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app).await;
    app.create_invitation(&e.id, &json!({"email": "retry@example.com"})).await.unwrap();
    let now = Timestamp::now();
    let m = store.claim_mail(now, 60_000, 10).await.unwrap().remove(0);
    assert_eq!(m.attempts, 1);
    store.mark_mail_failed(&m.id, "connection refused", Some(now.plus_millis(-1))).await.unwrap();
    let again = store.claim_mail(now, 60_000, 10).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 2));
    store.mark_mail_failed(&m.id, "gave up", None).await.unwrap();
    assert!(store.claim_mail(now.plus_millis(10_000_000), 60_000, 10).await.unwrap().is_empty());
}

vestibule_test_support::conformance!(
    users_are_unique_by_email_and_hash_passwords,
    memberships_roles_and_effective_permissions,
    invitations_are_single_use_and_create_memberships,
    mail_failures_are_retried_then_given_up,
);
