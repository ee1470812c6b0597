//! Conformance for audit logs: schema versions, event checks, the export queue and its
//! CSV, retention and server secrets, run on SQLite and PostgreSQL like `conformance.rs`.

use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use vestibule_core::audit_logs::{
    AuditLogContext, AuditLogEntity, AuditLogEvent, AuditLogExport, CSV_COLUMNS, EXPORT_LEASE_MS, ExportFilter,
};
use vestibule_core::environments::{Environment, EnvironmentKind};
use vestibule_core::kernel::pagination::{Order, PageRequest};
use vestibule_core::{CoreError, Store, Timestamp, Vestibule};
use vestibule_test_support::app;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

async fn env(app: &Vestibule) -> Environment {
    app.create_environment("A", EnvironmentKind::Test, None).await.unwrap()
}

async fn org(app: &Vestibule, env: &str) -> String {
    app.create_organization(env, &json!({"name": "Acme"})).await.unwrap().id
}

fn body(org: &str, action: &str, at: Timestamp) -> Value {
    json!({
        "organization_id": org,
        "event": {
            "action": action,
            "occurred_at": at.to_iso(),
            "actor": {"id": "user_1", "type": "user", "name": "Ada"},
            "targets": [{"id": "team_1", "type": "team"}],
            "context": {"location": "192.0.2.1", "user_agent": "test"},
        }
    })
}

/// An event written straight to the store, for volume and exact times.
fn event(org: &str, i: usize, at: Timestamp) -> AuditLogEvent {
    let entity = |id: String, kind: &str| AuditLogEntity { id, kind: kind.into(), name: None, metadata: Map::new() };
    AuditLogEvent {
        id: vestibule_ids::generate(vestibule_ids::Kind::AuditLogEvent),
        organization_id: org.to_owned(),
        action: if i.is_multiple_of(2) { "doc.read".into() } else { "doc.written".into() },
        occurred_at: at,
        version: None,
        actor: AuditLogEntity { name: Some(format!("actor {}", i % 3)), ..entity(format!("user_{}", i % 3), "user") },
        targets: vec![entity(format!("doc_{i}"), if i.is_multiple_of(5) { "invoice" } else { "doc" })],
        context: AuditLogContext { location: "192.0.2.1".into(), user_agent: None },
        metadata: Map::new(),
        idempotency_key: None,
        created_at: at,
    }
}

fn export_of(env: &str, org: &str, start: Timestamp, end: Timestamp, filter: ExportFilter) -> AuditLogExport {
    AuditLogExport {
        object: "audit_log_export",
        id: vestibule_ids::generate(vestibule_ids::Kind::AuditLogExport),
        state: "pending".into(),
        url: None,
        created_at: Timestamp::now(),
        updated_at: Timestamp::now(),
        environment_id: env.to_owned(),
        organization_id: org.to_owned(),
        range_start: start,
        range_end: end,
        filter,
        attempts: 0,
        row_count: None,
        chunk_count: None,
        error: None,
    }
}

/// Every event of `org` in one environment, as an export would select them.
async fn stored(app: &Vestibule, env: &str, org: &str) -> Vec<AuditLogEvent> {
    let all = export_of(env, org, Timestamp(0), Timestamp::now().plus_millis(DAY_MS), ExportFilter::default());
    app.audit_log_export_events(&all).await.unwrap()
}

/// Reads a ready export back through a signed link, as the download route does.
async fn download(app: &Vestibule, env: &str, id: &str) -> String {
    let ready = app.get_audit_log_export(env, id).await.unwrap();
    assert_eq!(ready.state, "ready");
    let url = url_params(ready.url.as_deref().unwrap());
    let mut dl = app.open_audit_log_export_download(id, &url.0, &url.1).await.unwrap();
    let mut csv = Vec::new();
    while let Some(chunk) = dl.next_chunk().await.unwrap() {
        csv.extend(chunk);
    }
    String::from_utf8(csv).unwrap()
}

fn url_params(url: &str) -> (String, String) {
    let query = url.split_once('?').unwrap().1;
    let mut expires = String::new();
    let mut signature = String::new();
    for pair in query.split('&') {
        match pair.split_once('=').unwrap() {
            ("expires", v) => expires = v.to_owned(),
            ("signature", v) => signature = v.to_owned(),
            _ => {}
        }
    }
    (expires, signature)
}

async fn schemas_are_versioned_and_listed(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app).await;
    let schema = json!({"targets": [{"type": "team"}], "metadata": {"type": "object"}});
    let v1 = app.create_audit_log_schema(&e.id, "user.signed_in", &schema).await.unwrap();
    let v2 = app
        .create_audit_log_schema(&e.id, "user.signed_in", &json!({"targets": [{"type": "team"}, {"type": "doc"}]}))
        .await
        .unwrap();
    assert_eq!((v1.version, v2.version), (1, 2));
    app.create_audit_log_schema(&e.id, "doc.read", &schema).await.unwrap();
    // Concurrent edits of one action each get their own version.
    let more = futures_join(&app, &e.id).await;
    assert_eq!(more, BTreeSet::from([3, 4, 5, 6]));
    let actions = app.list_audit_log_actions(&e.id, PageRequest { limit: 10, ..Default::default() }).await.unwrap();
    let names: Vec<(&str, i64)> = actions.data.iter().map(|a| (a.name.as_str(), a.schema.version)).collect();
    assert_eq!(names, [("doc.read", 1), ("user.signed_in", 6)], "newest first, each with its latest schema");
    let first = app
        .list_audit_log_schemas(
            &e.id,
            "user.signed_in",
            PageRequest { limit: 4, order: Order::Asc, ..Default::default() },
        )
        .await
        .unwrap();
    let rest = PageRequest { limit: 4, order: Order::Asc, after: first.after.clone(), ..Default::default() };
    let rest = app.list_audit_log_schemas(&e.id, "user.signed_in", rest).await.unwrap();
    // Pages follow creation order; concurrent creations may take versions in another order.
    let mut versions: Vec<i64> = first.data.iter().chain(&rest.data).map(|s| s.version).collect();
    assert_eq!((first.data.len(), rest.data.len(), rest.after.clone()), (4, 2, None));
    assert_eq!(&versions[..2], [1, 2]);
    versions.sort();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6]);
    assert!(matches!(
        app.list_audit_log_schemas(&e.id, "nope", PageRequest { limit: 1, ..Default::default() }).await,
        Err(CoreError::NotFound { .. })
    ));
    let bad = app
        .create_audit_log_schema(&e.id, "doc.read", &json!({"targets": [{"type": "doc", "metadata": {"type": 5}}]}))
        .await;
    assert!(matches!(&bad, Err(CoreError::Invalid(errs)) if errs[0].field == "targets[0].metadata"), "{bad:?}");
    let missing = app.create_audit_log_schema(&e.id, "doc.read", &json!({})).await;
    assert!(matches!(&missing, Err(CoreError::Invalid(errs)) if errs[0].field == "targets"), "{missing:?}");
    assert_eq!(
        store.get_audit_log_schema(&e.id, "doc.read", None).await.unwrap().unwrap().version,
        1,
        "failures add no version"
    );
}

async fn futures_join(app: &Vestibule, env: &str) -> BTreeSet<i64> {
    let body = json!({"targets": []});
    let (a, b, c, d) = tokio::join!(
        app.create_audit_log_schema(env, "user.signed_in", &body),
        app.create_audit_log_schema(env, "user.signed_in", &body),
        app.create_audit_log_schema(env, "user.signed_in", &body),
        app.create_audit_log_schema(env, "user.signed_in", &body),
    );
    [a, b, c, d].into_iter().map(|s| s.unwrap().version).collect()
}

async fn events_are_checked_before_they_are_stored(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app).await;
    let org = org(&app, &e.id).await;
    let now = Timestamp::now();
    app.create_audit_log_event(&e.id, &body(&org, "user.signed_in", now), Some("key-1")).await.unwrap();
    let missing =
        app.create_audit_log_event(&e.id, &body("org_01HZZZZZZZZZZZZZZZZZZZZZZZ", "user.signed_in", now), None).await;
    assert!(matches!(missing, Err(CoreError::NotFound { entity: "Organization", .. })), "{missing:?}");
    app.create_audit_log_schema(
        &e.id,
        "user.signed_in",
        &json!({"targets": [{"type": "invoice"}], "metadata": {"type": "object", "required": ["reason"]}}),
    )
    .await
    .unwrap();
    let invalid = app.create_audit_log_event(&e.id, &body(&org, "user.signed_in", now), None).await;
    let Err(CoreError::InvalidAuditLogEvent(errs)) = invalid else { panic!("schema violation expected: {invalid:?}") };
    let paths: BTreeSet<&str> = errs.iter().map(|e| e.instance_path.as_str()).collect();
    assert_eq!(paths, BTreeSet::from(["/metadata", "/targets/0/type"]));
    let no_version =
        app.create_audit_log_event(&e.id, &json!({"organization_id": org, "event": {"version": 9}}), None).await;
    assert!(matches!(no_version, Err(CoreError::Invalid(_))), "fields are checked first");
    let mut old = body(&org, "user.signed_in", now);
    old["event"]["version"] = json!(7);
    assert!(matches!(app.create_audit_log_event(&e.id, &old, None).await, Err(CoreError::InvalidAuditLogEvent(_))));
    let mut ok = body(&org, "user.signed_in", now);
    ok["event"]["targets"] = json!([{"id": "in_1", "type": "invoice"}]);
    ok["event"]["metadata"] = json!({"reason": "login", "attempt": 2, "sso": true});
    app.create_audit_log_event(&e.id, &ok, None).await.unwrap();
    let events = stored(&app, &e.id, &org).await;
    assert_eq!(events.len(), 2, "the failures stored nothing");
    assert_eq!((events[0].idempotency_key.as_deref(), events[0].version), (Some("key-1"), None));
    assert_eq!((events[1].version, events[1].metadata.get("attempt")), (Some(1), Some(&json!(2))));
}

async fn exports_stream_the_selected_events_as_csv(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app).await;
    let org = org(&app, &e.id).await;
    let other = self::org(&app, &e.id).await;
    let base = Timestamp::now().plus_millis(-10 * DAY_MS);
    // More than two pages, many sharing one millisecond so the (occurred_at, id) keyset matters.
    let events: Vec<AuditLogEvent> = (0..2300).map(|i| event(&org, i, base.plus_millis((i / 7) as i64))).collect();
    // One batch, written as several multi-row statements in one transaction.
    let stray = event(&other, 1, base);
    let batch: Vec<(&str, &AuditLogEvent)> = events.iter().chain([&stray]).map(|ev| (e.id.as_str(), ev)).collect();
    store.insert_audit_log_events(&batch).await.unwrap();
    let (start, end) = (base.plus_millis(10), base.plus_millis(300));
    let filter = json!({"organization_id": org, "range_start": start.to_iso(), "range_end": end.to_iso(),
        "actions": ["doc.written"], "actor_ids": ["user_1"], "actor_names": ["actor 2"], "targets": ["doc"]});
    let export = app.create_audit_log_export(&e.id, &filter).await.unwrap();
    assert_eq!((export.state.as_str(), export.url.as_deref()), ("pending", None));
    assert!(app.process_next_audit_log_export().await.unwrap());
    assert!(!app.process_next_audit_log_export().await.unwrap(), "one export, done once");
    let csv = download(&app, &e.id, &export.id).await;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), CSV_COLUMNS);
    let got: Vec<String> = reader.records().map(|r| r.unwrap()[0].to_owned()).collect();
    let want: Vec<String> = events
        .iter()
        .filter(|ev| ev.occurred_at >= start && ev.occurred_at <= end)
        .filter(|ev| {
            ev.action == "doc.written" && (ev.actor.id == "user_1" || ev.actor.name.as_deref() == Some("actor 2"))
        })
        .filter(|ev| ev.targets[0].kind == "doc")
        .map(|ev| ev.id.clone())
        .collect();
    assert!(want.len() > 300, "the filters leave a real selection: {}", want.len());
    assert_eq!(got, want, "exactly the selected events, in time order");
    // Everything in range: more rows than one page.
    let all =
        json!({"organization_id": org, "range_start": base.to_iso(), "range_end": base.plus_millis(DAY_MS).to_iso()});
    let all = app.create_audit_log_export(&e.id, &all).await.unwrap();
    app.process_next_audit_log_export().await.unwrap();
    let csv = download(&app, &e.id, &all.id).await;
    assert_eq!(csv::Reader::from_reader(csv.as_bytes()).records().count(), 2300);
    // Links are checked: a changed signature, another export, an expired link.
    let (expires, signature) =
        url_params(app.get_audit_log_export(&e.id, &export.id).await.unwrap().url.as_deref().unwrap());
    let mut tampered = signature.clone().into_bytes();
    tampered[0] = if tampered[0] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).unwrap();
    for (id, exp, sig) in
        [(&export.id, &expires, &tampered), (&all.id, &expires, &signature), (&export.id, &"1".to_string(), &signature)]
    {
        let r = app.open_audit_log_export_download(id, exp, sig).await;
        assert!(matches!(r, Err(CoreError::Forbidden { code: "invalid_signature", .. })), "{r:?}");
    }
    let expired = app.audit_log_export_download_url(&export.id, Timestamp::now().plus_millis(-1000)).await.unwrap();
    let (exp, sig) = url_params(&expired);
    let r = app.open_audit_log_export_download(&export.id, &exp, &sig).await;
    assert!(matches!(r, Err(CoreError::Forbidden { code: "download_link_expired", .. })), "{r:?}");
}

async fn export_leases_fence_out_stale_workers(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app).await;
    let org = org(&app, &e.id).await;
    let t0 = Timestamp::now();
    let x = export_of(&e.id, &org, t0.plus_millis(-DAY_MS), t0, ExportFilter::default());
    store.insert_audit_log_export(&x).await.unwrap();
    // Claim no earlier than the export was created (a loaded machine can tick between).
    let now = Timestamp::now().max(x.created_at);
    let first = store.claim_audit_log_export(now, EXPORT_LEASE_MS).await.unwrap().expect("claimed");
    assert_eq!(first.attempts, 1);
    assert!(store.claim_audit_log_export(now, EXPORT_LEASE_MS).await.unwrap().is_none(), "leased");
    assert!(store.put_audit_log_export_chunk(&x.id, 1, 0, b"a,b\n", now.plus_millis(EXPORT_LEASE_MS)).await.unwrap());
    // The first worker stalls past its lease; a second one takes over.
    let later = now.plus_millis(2 * EXPORT_LEASE_MS);
    let second = store.claim_audit_log_export(later, EXPORT_LEASE_MS).await.unwrap().expect("re-claimed");
    assert_eq!(second.attempts, 2);
    assert!(
        !store.put_audit_log_export_chunk(&x.id, 1, 1, b"stale", later).await.unwrap(),
        "the stale worker is fenced out"
    );
    assert!(!store.complete_audit_log_export(&x.id, 1, 1, 2, later).await.unwrap());
    assert!(store.put_audit_log_export_chunk(&x.id, 2, 0, b"id\n", later).await.unwrap());
    assert!(store.complete_audit_log_export(&x.id, 2, 0, 1, later).await.unwrap());
    let done = store.get_audit_log_export(Some(&e.id), &x.id).await.unwrap().unwrap();
    assert_eq!((done.state.as_str(), done.chunk_count, done.row_count), ("ready", Some(1), Some(0)));
    assert_eq!(store.get_audit_log_export_chunk(&x.id, 0).await.unwrap().as_deref(), Some(&b"id\n"[..]));
    assert!(
        store.get_audit_log_export(Some("environment_other"), &x.id).await.unwrap().is_none(),
        "scoped to its environment"
    );
    // A failing export is retried, then given up.
    let y = export_of(&e.id, &org, now.plus_millis(-DAY_MS), now, ExportFilter::default());
    store.insert_audit_log_export(&y).await.unwrap();
    let c = store.claim_audit_log_export(later, EXPORT_LEASE_MS).await.unwrap().unwrap();
    store.fail_audit_log_export(&y.id, c.attempts, "disk full", Some(later.plus_millis(5000)), later).await.unwrap();
    assert!(store.claim_audit_log_export(later, EXPORT_LEASE_MS).await.unwrap().is_none(), "waits for its retry time");
    let c = store.claim_audit_log_export(later.plus_millis(5000), EXPORT_LEASE_MS).await.unwrap().unwrap();
    store.fail_audit_log_export(&y.id, c.attempts, "disk full", None, later).await.unwrap();
    let failed = store.get_audit_log_export(None, &y.id).await.unwrap().unwrap();
    assert_eq!((failed.state.as_str(), failed.error.as_deref()), ("error", Some("disk full")));
}

async fn retention_purges_old_events(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app).await;
    let short = org(&app, &e.id).await;
    let long = org(&app, &e.id).await;
    assert_eq!(app.get_audit_logs_retention(&e.id, &short).await.unwrap(), None);
    assert_eq!(
        app.set_audit_logs_retention(&e.id, &short, &json!({"retention_period_in_days": 30})).await.unwrap(),
        30
    );
    assert!(matches!(
        app.set_audit_logs_retention(&e.id, &short, &json!({"retention_period_in_days": 31})).await,
        Err(CoreError::Invalid(_))
    ));
    assert_eq!(app.get_audit_log_configuration(&e.id, &short).await.unwrap().retention_period_in_days, 30);
    assert_eq!(app.get_audit_log_configuration(&e.id, &long).await.unwrap().retention_period_in_days, 365);
    let now = Timestamp::now();
    for (o, age_days) in [(&short, 40), (&short, 10), (&long, 40), (&long, 400)] {
        store.insert_audit_log_events(&[(&e.id, &event(o, 0, now.plus_millis(-age_days * DAY_MS)))]).await.unwrap();
    }
    assert_eq!(app.purge_audit_logs(now).await.unwrap(), 2);
    assert_eq!(stored(&app, &e.id, &short).await.len(), 1);
    let kept = stored(&app, &e.id, &long).await;
    assert_eq!(kept.len(), 1);
    assert!(kept[0].occurred_at > now.plus_millis(-41 * DAY_MS));
}

/// Events posted together are written in shared transactions, and every acknowledged one
/// is stored exactly once.
async fn concurrent_events_are_all_stored_once(store: Arc<dyn Store>) {
    let app = app(store);
    let e = env(&app).await;
    let org = org(&app, &e.id).await;
    let at = Timestamp::now().plus_millis(-1000);
    let bodies: Vec<Value> = (0..300)
        .map(|i| {
            let mut b = body(&org, "doc.read", at);
            b["event"]["metadata"] = json!({"n": i.to_string()});
            b
        })
        .collect();
    let outcomes =
        futures_util::future::join_all(bodies.iter().map(|b| app.create_audit_log_event(&e.id, b, None))).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let events = stored(&app, &e.id, &org).await;
    let numbers: BTreeSet<String> = events.iter().map(|ev| ev.metadata["n"].as_str().unwrap().to_owned()).collect();
    assert_eq!((events.len(), numbers.len()), (300, 300), "each event once");
    let ids: BTreeSet<&str> = events.iter().map(|ev| ev.id.as_str()).collect();
    assert_eq!(ids.len(), 300);
}

/// A batch whose transaction fails is retried event by event: only the event that cannot
/// be stored (here, a duplicate id) fails, and the others are stored.
async fn one_failing_event_does_not_fail_its_batch(store: Arc<dyn Store>) {
    let app = app(store.clone());
    let e = env(&app).await;
    let org = org(&app, &e.id).await;
    let at = Timestamp::now().plus_millis(-1000);
    let first = event(&org, 0, at);
    store.insert_audit_log_events(&[(&e.id, &first)]).await.unwrap();
    let mut batch: Vec<AuditLogEvent> = (1..50).map(|i| event(&org, i, at)).collect();
    batch.insert(25, AuditLogEvent { id: first.id.clone(), ..event(&org, 99, at) });
    let writer = vestibule_core::kernel::group_commit::EventWriter::new(store.clone());
    let outcomes = futures_util::future::join_all(batch.iter().map(|ev| writer.insert(&e.id, ev.clone()))).await;
    let failed: Vec<usize> = outcomes.iter().enumerate().filter(|(_, o)| o.is_err()).map(|(i, _)| i).collect();
    assert_eq!(failed, [25], "{outcomes:?}");
    let events = stored(&app, &e.id, &org).await;
    assert_eq!(events.len(), 50, "the first event and the 49 others");
    assert!(events.iter().all(|ev| ev.targets[0].id != "doc_99"), "the duplicate was not stored");
}

async fn server_secrets_are_created_once(store: Arc<dyn Store>) {
    let now = Timestamp::now();
    assert_eq!(store.server_secret("s", "first", now).await.unwrap(), "first");
    assert_eq!(store.server_secret("s", "second", now).await.unwrap(), "first");
    assert_eq!(store.server_secret("t", "other", now).await.unwrap(), "other");
}

vestibule_test_support::conformance!(
    schemas_are_versioned_and_listed,
    events_are_checked_before_they_are_stored,
    exports_stream_the_selected_events_as_csv,
    export_leases_fence_out_stale_workers,
    retention_purges_old_events,
    server_secrets_are_created_once,
    concurrent_events_are_all_stored_once,
    one_failing_event_does_not_fail_its_batch,
);
