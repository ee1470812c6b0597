"""Audit logs with the official Python SDK: events (with a reused Idempotency-Key),
schemas and the SDK's typed rejection of a violating event, an export polled until
ready and its CSV downloaded from the signed `url` with no API key, and retention."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional

import httpx
import pytest
from workos import WorkOSClient
from workos._errors import BadRequestError, ConflictError, NotFoundError, UnprocessableEntityError
from workos.audit_logs import RetentionPeriodInDays
from workos.audit_logs.models import (
    AuditLogEvent,
    AuditLogEventActor,
    AuditLogEventContext,
    AuditLogEventTarget,
    AuditLogExport,
    AuditLogSchemaActorInput,
    AuditLogSchemaTargetInput,
)

from harness import Api, missing_id, unique

# The columns of an export's CSV, in order (crates/core/src/audit_logs.rs, CSV_COLUMNS).
CSV_COLUMNS = ["id", "occurred_at", "action", "version", "actor_id", "actor_type", "actor_name",
               "targets", "location", "user_agent", "metadata"]
EXPORT_DEADLINE_S = 20.0
POLL_INTERVAL_S = 0.05


def now_ms() -> datetime:
    """Now in UTC, truncated to the millisecond the API keeps."""
    t = datetime.now(timezone.utc)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event(action: str, actor: str, at: datetime, *, target_type: str = "doc",
          metadata: Optional[Dict[str, Any]] = None,
          actor_metadata: Optional[Dict[str, Any]] = None) -> AuditLogEvent:
    return AuditLogEvent(
        action=action,
        occurred_at=at,
        actor=AuditLogEventActor(id=actor, type="user", name=f"Name of {actor}", metadata=actor_metadata),
        targets=[AuditLogEventTarget(id="doc_1", type=target_type, metadata={"size": 3})],
        context=AuditLogEventContext(location="192.0.2.1", user_agent="pytest/e2e"),
        metadata={"reason": 'a, "quoted"\nvalue'} if metadata is None else metadata,
    )


def create(client: WorkOSClient, org_id: str, e: AuditLogEvent, key: Optional[str] = None) -> None:
    response = client.audit_logs.create_event(organization_id=org_id, event=e, idempotency_key=key)
    assert response.success is True


def wait_ready(client: WorkOSClient, created: AuditLogExport) -> AuditLogExport:
    """Polls get_export until the export leaves pending; bounded by EXPORT_DEADLINE_S."""
    assert created.object == "audit_log_export" and created.id.startswith("audit_log_export_")
    assert getattr(created.state, "value", created.state) == "pending" and created.url is None
    deadline = time.monotonic() + EXPORT_DEADLINE_S
    while True:
        export = client.audit_logs.get_export(created.id)
        assert export.id == created.id
        if getattr(export.state, "value", export.state) != "pending":
            return export
        if time.monotonic() > deadline:
            pytest.fail(f"export {created.id} still pending after {EXPORT_DEADLINE_S}s")
        time.sleep(POLL_INTERVAL_S)


def download(export: AuditLogExport) -> List[Dict[str, str]]:
    """The CSV rows behind a ready export's signed url, fetched without an API key."""
    assert getattr(export.state, "value", export.state) == "ready", export
    assert export.url, export
    response = httpx.get(export.url, timeout=30.0)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(response.text, newline=""))
    assert reader.fieldnames == CSV_COLUMNS
    return list(reader)


def export_rows(client: WorkOSClient, org_id: str, start: datetime, end: datetime,
                **filters: Any) -> List[Dict[str, str]]:
    created = client.audit_logs.create_export(
        organization_id=org_id, range_start=start, range_end=end, **filters)
    return download(wait_ready(client, created))


def test_export_csv_holds_exactly_the_events_in_range_and_matching_actions(client: WorkOSClient) -> None:
    org = client.organizations.create_organization(name=unique("audit"))
    other = client.organizations.create_organization(name=unique("audit-other"))
    base = now_ms() - timedelta(hours=30)
    sent = []
    for i in range(12):
        action = ["doc.read", "doc.written", "doc.deleted"][i % 3]
        actor = f"user_{i % 4}"
        at = base + timedelta(hours=2 * i)
        create(client, org.id, event(action, actor, at))
        sent.append((iso(at), action, actor))
    # The same action in another organization never shows up.
    create(client, other.id, event("doc.read", "user_0", base + timedelta(hours=5)))

    start, end = base + timedelta(hours=3), base + timedelta(hours=19)
    rows = export_rows(client, org.id, start, end, actions=["doc.read", "doc.deleted"])
    want = [s for s in sent
            if iso(start) <= s[0] <= iso(end) and s[1] in ("doc.read", "doc.deleted")]
    assert len(want) == 6, want
    assert [(r["occurred_at"], r["action"], r["actor_id"]) for r in rows] == want
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows:
        assert r["id"].startswith("audit_log_event_")
        assert (r["version"], r["actor_type"], r["actor_name"]) == ("", "user", f"Name of {r['actor_id']}")
        assert (r["location"], r["user_agent"]) == ("192.0.2.1", "pytest/e2e")
        assert json.loads(r["targets"]) == [{"id": "doc_1", "type": "doc", "metadata": {"size": 3}}]
        assert json.loads(r["metadata"]) == {"reason": 'a, "quoted"\nvalue'}

    # No filter: every event of the organization in range, in time order.
    rows = export_rows(client, org.id, start, end)
    assert [(r["occurred_at"], r["action"], r["actor_id"]) for r in rows] == [
        s for s in sent if iso(start) <= s[0] <= iso(end)]


def test_a_reused_idempotency_key_stores_the_event_once(client: WorkOSClient) -> None:
    org = client.organizations.create_organization(name=unique("audit-idem"))
    at = now_ms() - timedelta(minutes=10)
    create(client, org.id, event("doc.read", "user_a", at))  # the SDK's own random key
    key = unique("idem")
    same = event("doc.read", "user_b", at + timedelta(seconds=1))
    create(client, org.id, same, key)
    create(client, org.id, same, key)  # replayed: no second event
    create(client, org.id, same, unique("idem"))  # a new key is a new event
    with pytest.raises(ConflictError) as e:
        create(client, org.id, event("doc.read", "user_c", at), key)  # same key, other body
    assert e.value.code == "idempotency_error"

    rows = export_rows(client, org.id, at - timedelta(hours=1), now_ms() + timedelta(minutes=1))
    assert [r["actor_id"] for r in rows] == ["user_a", "user_b", "user_b"]
    assert rows[1]["id"] != rows[2]["id"]


def test_a_schema_rejects_violating_events_with_the_sdk_typed_error(client: WorkOSClient) -> None:
    org = client.organizations.create_organization(name=unique("audit-schema"))
    action = f"invoice.{unique('paid').replace('-', '_')}"
    schema = client.audit_logs.create_schema(
        action,
        actor=AuditLogSchemaActorInput(metadata={"type": "object", "properties": {"role": {"type": "string"}}}),
        targets=[AuditLogSchemaTargetInput(
            type="invoice",
            metadata={"type": "object", "properties": {"cost": {"type": "number"}}, "required": ["cost"]})],
        metadata={"type": "object", "properties": {"reason": {"type": "string"}}, "required": ["reason"]},
    )
    assert (schema.object, schema.version) == ("audit_log_schema", 1)
    assert [t.type for t in schema.targets] == ["invoice"]
    assert schema.actor is not None and schema.actor.metadata["properties"]["role"] == {"type": "string"}

    at = now_ms() - timedelta(minutes=5)
    bad = AuditLogEvent(
        action=action,
        occurred_at=at,
        actor=AuditLogEventActor(id="user_1", type="user", metadata={"role": 5}),
        targets=[AuditLogEventTarget(id="inv_1", type="receipt")],
        context=AuditLogEventContext(location="192.0.2.1"),
        metadata={},
    )
    with pytest.raises(BadRequestError) as e:
        client.audit_logs.create_event(organization_id=org.id, event=bad)
    assert (e.value.status_code, e.value.code) == (400, "invalid_audit_log_event")
    assert e.value.message == "Invalid Audit Log event."
    paths = sorted(err["instancePath"] for err in e.value.errors)
    assert paths == ["/actor/metadata/role", "/metadata", "/targets/0/type"], e.value.errors
    assert all(err["message"] for err in e.value.errors)

    good = AuditLogEvent(
        action=action,
        occurred_at=at,
        actor=AuditLogEventActor(id="user_1", type="user", metadata={"role": "admin"}),
        targets=[AuditLogEventTarget(id="inv_1", type="invoice", metadata={"cost": 12.5})],
        context=AuditLogEventContext(location="192.0.2.1"),
        metadata={"reason": "paid"},
    )
    create(client, org.id, good)
    # A version the action does not have is refused the same way.
    with pytest.raises(BadRequestError) as e:
        client.audit_logs.create_event(
            organization_id=org.id,
            event=dataclasses.replace(good, version=7))
    assert e.value.code == "invalid_audit_log_event"
    assert [err["instancePath"] for err in e.value.errors] == ["/version"]

    schemas = client.audit_logs.list_action_schemas(action)
    assert [s.version for s in schemas.data] == [1]
    actions = {a.name: a for a in client.audit_logs.list_actions(limit=100).data}
    assert actions[action].object == "audit_log_action" and actions[action].schema.version == 1
    with pytest.raises(NotFoundError):
        client.audit_logs.list_action_schemas(f"never.{unique('x').replace('-', '_')}")
    with pytest.raises(UnprocessableEntityError):
        client.audit_logs.create_schema(
            action, targets=[AuditLogSchemaTargetInput(type="invoice", metadata={"type": "nonsense"})])

    # Only the accepted event exists, stamped with the schema version it was checked against.
    rows = export_rows(client, org.id, at - timedelta(hours=1), now_ms() + timedelta(minutes=1))
    assert [(r["action"], r["version"]) for r in rows] == [(action, "1")]


def test_field_errors_and_unknown_organizations(client: WorkOSClient) -> None:
    org = client.organizations.create_organization(name=unique("audit-fields"))
    future = now_ms() + timedelta(days=1)
    with pytest.raises(UnprocessableEntityError) as e:
        create(client, org.id, event("doc.read", "user_a", future))
    assert [(err["field"], err["code"]) for err in e.value.errors] == [("event.occurred_at", "in_future")]
    with pytest.raises(UnprocessableEntityError) as e:
        create(client, org.id, event("doc.read", "user_a", now_ms(), metadata={"nested": {"no": 1}}))  # type: ignore[dict-item]
    assert [(err["field"], err["code"]) for err in e.value.errors] == [("event.metadata.nested", "invalid_type")]
    missing = missing_id("org")
    with pytest.raises(NotFoundError) as e:
        create(client, missing, event("doc.read", "user_a", now_ms()))
    assert e.value.code == "entity_not_found"
    with pytest.raises(NotFoundError):
        client.audit_logs.get_export(missing_id("audit_log_export"))


def test_retention_get_and_set(client: WorkOSClient) -> None:
    org = client.organizations.create_organization(name=unique("audit-retention"))
    logs = client.audit_logs
    assert logs.get_organization_audit_logs_retention(org.id).retention_period_in_days is None
    config = client.organizations.get_audit_log_configuration(org.id)
    assert (config.organization_id, config.retention_period_in_days) == (org.id, 365)
    assert getattr(config.state, "value", config.state) == "active"
    for days in (30, 365, 30):
        updated = logs.update_organization_audit_logs_retention(
            org.id, retention=RetentionPeriodInDays(retention_period_in_days=days))
        assert updated.retention_period_in_days == days
        assert logs.get_organization_audit_logs_retention(org.id).retention_period_in_days == days
    for days in (0, 45, 90, 366, 3650):
        with pytest.raises(UnprocessableEntityError) as e:
            logs.update_organization_audit_logs_retention(
                org.id, retention=RetentionPeriodInDays(retention_period_in_days=days))
        assert [err["field"] for err in e.value.errors] == ["retention_period_in_days"], days
    assert logs.get_organization_audit_logs_retention(org.id).retention_period_in_days == 30
    assert client.organizations.get_audit_log_configuration(org.id).retention_period_in_days == 30
    with pytest.raises(NotFoundError):
        logs.get_organization_audit_logs_retention(missing_id("org"))
    with pytest.raises(NotFoundError):
        logs.update_organization_audit_logs_retention(
            missing_id("org"), retention=RetentionPeriodInDays(retention_period_in_days=30))


def test_the_guides_year_long_export_range_is_accepted(api: Api) -> None:
    # The body of the WorkOS agent guide's export example, verbatim: a whole year.
    org = api.post("/organizations", json={"name": unique("audit-year")}).json()
    body = {
        "organization_id": org["id"],
        "actions": ["user.signed_in", "user.signed_out"],
        "range_start": "2024-01-01T00:00:00.000Z",
        "range_end": "2024-12-31T23:59:59.999Z",
    }
    response = api.post("/audit_logs/exports", json=body)
    assert response.status_code == 201, response.text
    export = response.json()
    assert (export["object"], export["state"]) == ("audit_log_export", "pending")
