"""GET /events through the Python SDK: every organization change leaves one event."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, List

import pytest
from workos import WorkOSClient
from workos.common.models.organization_created import OrganizationCreated
from workos.common.models.organization_deleted import OrganizationDeleted
from workos.common.models.organization_domain_created import OrganizationDomainCreated
from workos.common.models.organization_domain_deleted import OrganizationDomainDeleted
from workos.common.models.organization_domain_verification_failed import (
    OrganizationDomainVerificationFailed,
)
from workos.common.models.organization_domain_verified import OrganizationDomainVerified
from workos.common.models.organization_updated import OrganizationUpdated

from fakedns import FakeDns
from harness import Api, unique, unique_domain

ORG_EVENTS = ["organization.created", "organization.updated", "organization.deleted"]
DOMAIN_EVENTS = [
    "organization_domain.created",
    "organization_domain.updated",
    "organization_domain.deleted",
    "organization_domain.verified",
    "organization_domain.verification_failed",
]
ALL = ORG_EVENTS + DOMAIN_EVENTS


def all_events(client: WorkOSClient, **filters: Any) -> List[Any]:
    filters.setdefault("events", ALL)
    return list(client.events.list_events(limit=100, **filters).auto_paging_iter())


def subject_id(event: Any) -> str:
    data = event.data
    if event.event == "organization_domain.verification_failed":
        return data.organization_domain.id
    return data.id


def test_lifecycle_events_in_order(fresh_client: WorkOSClient) -> None:
    client = fresh_client
    started = datetime.now(timezone.utc)
    org = client.organizations.create_organization(name="Evented", metadata={"a": "1"})
    renamed = client.organizations.update_organization(org.id, name="Evented 2")
    domain = client.organization_domains.create_organization_domain(
        domain=unique_domain(), organization_id=org.id
    )
    client.organization_domains.delete_organization_domain(domain.id)
    client.organizations.delete_organization(org.id)

    events = all_events(client)
    assert all(e.object == "event" for e in events)
    assert all(e.id.startswith("event_") for e in events)
    assert len({e.id for e in events}) == len(events)
    stamps = [e.created_at for e in events]
    assert stamps == sorted(stamps), "events must come oldest first"
    assert all(started - timedelta(seconds=5) <= s <= datetime.now(timezone.utc) for s in stamps)

    core = [
        (e.event, subject_id(e)) for e in events
        if e.event in ("organization.created", "organization.deleted",
                       "organization_domain.created", "organization_domain.deleted")
    ]
    assert core == [
        ("organization.created", org.id),
        ("organization_domain.created", domain.id),
        ("organization_domain.deleted", domain.id),
        ("organization.deleted", org.id),
    ]

    created = next(e for e in events if e.event == "organization.created")
    assert isinstance(created, OrganizationCreated)
    assert created.data.id == org.id
    assert created.data.name == "Evented"
    assert created.data.metadata == {"a": "1"}

    updates = [e for e in events if e.event == "organization.updated"]
    assert updates, "the rename must emit organization.updated"
    assert isinstance(updates[0], OrganizationUpdated)
    assert updates[0].data.id == org.id
    assert updates[0].data.name == renamed.name == "Evented 2"

    domain_created = next(e for e in events if e.event == "organization_domain.created")
    assert isinstance(domain_created, OrganizationDomainCreated)
    assert domain_created.data.domain == domain.domain
    assert domain_created.data.organization_id == org.id
    domain_deleted = next(e for e in events if e.event == "organization_domain.deleted")
    assert isinstance(domain_deleted, OrganizationDomainDeleted)

    deleted = events[-1]
    assert isinstance(deleted, OrganizationDeleted)
    assert deleted.data.id == org.id


def test_verification_events(expiring_client: WorkOSClient, dns: FakeDns) -> None:
    client = expiring_client
    org = client.organizations.create_organization(name=unique("org"))
    failing = client.organization_domains.create_organization_domain(
        domain=unique_domain(), organization_id=org.id
    )
    passing = client.organization_domains.create_organization_domain(
        domain=unique_domain(), organization_id=org.id
    )
    dns.set_txt(f"{passing.verification_prefix}.{passing.domain}", passing.verification_token)
    assert client.organization_domains.verify_organization_domain(failing.id).state.value == "failed"
    assert client.organization_domains.verify_organization_domain(passing.id).state.value == "verified"

    events = all_events(client, events=[
        "organization_domain.verified", "organization_domain.verification_failed",
    ])
    assert [(e.event, subject_id(e)) for e in events] == [
        ("organization_domain.verification_failed", failing.id),
        ("organization_domain.verified", passing.id),
    ]
    failed, verified = events
    assert isinstance(failed, OrganizationDomainVerificationFailed)
    assert failed.data.organization_domain.domain == failing.domain
    assert failed.data.organization_domain.organization_id == org.id
    assert failed.data.reason
    assert isinstance(verified, OrganizationDomainVerified)
    assert verified.data.domain == passing.domain
    assert verified.data.state.value == "verified"


def test_type_filter(client: WorkOSClient) -> None:
    org = client.organizations.create_organization(name=unique("org"))
    client.organizations.update_organization(org.id, name=unique("org"))
    client.organizations.update_organization(org.id, name=unique("org"))
    updates = all_events(client, events=["organization.updated"], organization_id=org.id)
    assert [e.event for e in updates] == ["organization.updated"] * 2
    both = all_events(client, events=["organization.created", "organization.updated"],
                      organization_id=org.id)
    assert [e.event for e in both] == [
        "organization.created", "organization.updated", "organization.updated",
    ]


def test_organization_filter(client: WorkOSClient) -> None:
    mine = client.organizations.create_organization(name=unique("org"))
    other = client.organizations.create_organization(name=unique("org"))
    domain = client.organization_domains.create_organization_domain(
        domain=unique_domain(), organization_id=mine.id
    )
    client.organizations.update_organization(other.id, name=unique("org"))
    events = all_events(client, organization_id=mine.id)
    subjects = {(e.event, subject_id(e)) for e in events}
    assert ("organization.created", mine.id) in subjects
    assert ("organization_domain.created", domain.id) in subjects
    assert all(other.id not in (subject_id(e), getattr(e.data, "organization_id", None))
               for e in events)
    assert [(e.event, subject_id(e)) for e in all_events(client, organization_id=other.id)] == [
        ("organization.created", other.id), ("organization.updated", other.id),
    ]


def test_empty_events_filter_means_all_types(client: WorkOSClient) -> None:
    org = client.organizations.create_organization(name=unique("org"))
    client.organizations.update_organization(org.id, name=unique("org"))
    # The SDK sends `events=` for an empty list; an empty value is "absent".
    events = list(client.events.list_events(events=[], organization_id=org.id).auto_paging_iter())
    assert [e.event for e in events] == ["organization.created", "organization.updated"]


def test_after_cursor_pages_forward(fresh_client: WorkOSClient) -> None:
    client = fresh_client
    orgs = [client.organizations.create_organization(name=f"E{i}") for i in range(7)]
    everything = all_events(client, events=["organization.created"])
    assert [e.data.id for e in everything] == [o.id for o in orgs]

    page = client.events.list_events(events=["organization.created"], limit=3)
    assert [e.data.id for e in page.data] == [o.id for o in orgs[:3]]
    assert page.list_metadata.after == page.data[-1].id
    walked = [e.id for e in page.auto_paging_iter()]
    assert walked == [e.id for e in everything]

    tail = client.events.list_events(events=["organization.created"], after=everything[4].id)
    assert [e.id for e in tail.data] == [e.id for e in everything[5:]]
    empty = client.events.list_events(events=["organization.created"], after=everything[-1].id)
    assert empty.data == []
    assert empty.list_metadata.after is None


def test_order_is_always_oldest_first(fresh_client: WorkOSClient) -> None:
    client = fresh_client
    orgs = [client.organizations.create_organization(name=f"O{i}") for i in range(3)]
    for order in ("desc", "asc", "normal", None):
        page = client.events.list_events(events=["organization.created"], order=order)
        assert [e.data.id for e in page.data] == [o.id for o in orgs], order


def test_range_filters(fresh_client: WorkOSClient) -> None:
    client = fresh_client
    org = client.organizations.create_organization(name=unique("org"))
    created = all_events(client, events=["organization.created"])
    assert [e.data.id for e in created] == [org.id]
    at = created[0].created_at

    def iso(t: datetime) -> str:
        return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"

    day = timedelta(days=1)
    inside = all_events(client, events=["organization.created"],
                        range_start=iso(at - day), range_end=iso(at + day))
    assert [e.id for e in inside] == [created[0].id]
    assert all_events(client, events=["organization.created"], range_end=iso(at - day)) == []
    assert all_events(client, events=["organization.created"], range_start=iso(at + day)) == []


def test_raw_events_filter_encodings_agree(fresh_client: WorkOSClient, fresh_api: Api) -> None:
    client, api = fresh_client, fresh_api
    org = client.organizations.create_organization(name=unique("org"))
    client.organizations.update_organization(org.id, name=unique("org"))
    client.organizations.delete_organization(org.id)
    expected = ["organization.created", "organization.deleted"]
    encodings = [
        [("events", "organization.created,organization.deleted")],
        [("events", "organization.created"), ("events", "organization.deleted")],
        [("events[]", "organization.created"), ("events[]", "organization.deleted")],
    ]
    for params in encodings:
        body = api.get("/events", params=params).json()
        assert [e["event"] for e in body["data"]] == expected, params
        assert body["list_metadata"]["after"] == body["data"][-1]["id"]
    single = api.get("/events", params={"events": "organization.updated"}).json()
    assert [e["event"] for e in single["data"]] == ["organization.updated"]


@pytest.mark.parametrize("limit", [1, 100])
def test_limit_bounds_are_accepted(client: WorkOSClient, limit: int) -> None:
    client.organizations.create_organization(name=unique("org"))
    page = client.events.list_events(events=["organization.created"], limit=limit)
    assert 1 <= len(page.data) <= limit
