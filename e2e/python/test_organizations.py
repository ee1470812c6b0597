"""Organizations and organization domains through the official Python SDK."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from workos import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    UnprocessableEntityError,
    WorkOSClient,
)
from workos.organizations.models import Organization, OrganizationDomainData

from fakedns import FakeDns
from harness import missing_id, unique, unique_domain

ORG_ID_RE = re.compile(r"^org_[0-9A-HJKMNP-TV-Z]{26}$")
DOMAIN_ID_RE = re.compile(r"^org_domain_[0-9A-HJKMNP-TV-Z]{26}$")


def domain_states(org: Organization) -> dict[str, str]:
    return {d.domain: str(d.state.value if d.state is not None else None) for d in org.domains}


def test_create_returns_every_field(client: WorkOSClient) -> None:
    verified, pending = unique_domain(), unique_domain()
    external_id = unique("ext")
    before = datetime.now(timezone.utc).replace(microsecond=0)
    org = client.organizations.create_organization(
        name="Foo Corp",
        domain_data=[
            OrganizationDomainData(domain=verified, state="verified"),
            OrganizationDomainData(domain=pending, state="pending"),
        ],
        metadata={"tier": "diamond", "region": "eu"},
        external_id=external_id,
    )
    assert org.object == "organization"
    assert ORG_ID_RE.match(org.id), org.id
    assert org.name == "Foo Corp"
    assert org.metadata == {"tier": "diamond", "region": "eu"}
    assert org.external_id == external_id
    assert domain_states(org) == {verified: "verified", pending: "pending"}
    for d in org.domains:
        assert DOMAIN_ID_RE.match(d.id), d.id
        assert d.object == "organization_domain"
        assert d.organization_id == org.id
    assert org.created_at.tzinfo is not None
    assert before <= org.created_at <= datetime.now(timezone.utc)
    assert org.updated_at == org.created_at


def test_get_and_get_by_external_id_return_the_same_organization(client: WorkOSClient) -> None:
    external_id = unique("ext")
    created = client.organizations.create_organization(
        name=unique("org"), domain_data=[OrganizationDomainData(domain=unique_domain(), state="pending")],
        metadata={"k": "v"}, external_id=external_id,
    )
    fetched = client.organizations.get_organization(created.id)
    assert fetched.to_dict() == created.to_dict()
    by_external = client.organizations.get_organization_by_external_id(external_id)
    assert by_external.to_dict() == created.to_dict()


def test_external_id_with_reserved_characters_round_trips(client: WorkOSClient) -> None:
    # The SDK percent-encodes the segment; the server must route first, then decode.
    external_id = f"tenant/{unique()}:acme@example"
    created = client.organizations.create_organization(name=unique("org"), external_id=external_id)
    assert created.external_id == external_id
    fetched = client.organizations.get_organization_by_external_id(external_id)
    assert fetched.id == created.id


def test_create_without_optional_fields_has_empty_defaults(client: WorkOSClient) -> None:
    org = client.organizations.create_organization(name="Bare")
    assert org.domains == []
    assert org.metadata == {}
    assert org.external_id is None


def test_create_with_legacy_domains_field(client: WorkOSClient) -> None:
    a, b = unique_domain(), unique_domain()
    org = client.organizations.create_organization(name=unique("org"), domains=[a, b])
    assert sorted(d.domain for d in org.domains) == sorted([a, b])
    assert all(d.organization_id == org.id for d in org.domains)


def test_update_changes_only_the_given_fields(client: WorkOSClient) -> None:
    external_id = unique("ext")
    domain = unique_domain()
    org = client.organizations.create_organization(
        name="Before", metadata={"tier": "gold"}, external_id=external_id,
        domain_data=[OrganizationDomainData(domain=domain, state="verified")],
    )
    updated = client.organizations.update_organization(org.id, name="After")
    assert updated.id == org.id
    assert updated.name == "After"
    assert updated.metadata == {"tier": "gold"}
    assert updated.external_id == external_id
    assert domain_states(updated) == {domain: "verified"}
    assert updated.created_at == org.created_at
    assert updated.updated_at >= org.updated_at

    new_external = unique("ext")
    updated = client.organizations.update_organization(
        org.id, metadata={"tier": "diamond"}, external_id=new_external
    )
    assert updated.name == "After"
    assert updated.metadata == {"tier": "diamond"}
    assert updated.external_id == new_external

    fetched = client.organizations.get_organization(org.id)
    assert fetched.to_dict() == updated.to_dict()
    assert client.organizations.get_organization_by_external_id(new_external).id == org.id
    with pytest.raises(NotFoundError):
        client.organizations.get_organization_by_external_id(external_id)


def test_update_can_clear_external_id(client: WorkOSClient) -> None:
    external_id = unique("ext")
    org = client.organizations.create_organization(name=unique("org"), external_id=external_id)
    updated = client.organizations.update_organization(org.id, external_id=None)
    assert updated.external_id is None
    with pytest.raises(NotFoundError):
        client.organizations.get_organization_by_external_id(external_id)


def test_update_domain_data_replaces_the_domain_set(client: WorkOSClient) -> None:
    kept, dropped, added = unique_domain(), unique_domain(), unique_domain()
    org = client.organizations.create_organization(
        name=unique("org"),
        domain_data=[
            OrganizationDomainData(domain=kept, state="pending"),
            OrganizationDomainData(domain=dropped, state="pending"),
        ],
    )
    updated = client.organizations.update_organization(
        org.id,
        domain_data=[
            OrganizationDomainData(domain=kept, state="verified"),
            OrganizationDomainData(domain=added, state="pending"),
        ],
    )
    assert domain_states(updated) == {kept: "verified", added: "pending"}
    assert domain_states(client.organizations.get_organization(org.id)) == {
        kept: "verified", added: "pending",
    }


def test_delete_removes_the_organization(client: WorkOSClient) -> None:
    external_id = unique("ext")
    org = client.organizations.create_organization(name=unique("org"), external_id=external_id)
    assert client.organizations.delete_organization(org.id) is None
    with pytest.raises(NotFoundError) as exc:
        client.organizations.get_organization(org.id)
    assert exc.value.status_code == 404
    assert exc.value.code == "entity_not_found"
    with pytest.raises(NotFoundError):
        client.organizations.get_organization_by_external_id(external_id)
    ids = {o.id for o in client.organizations.list_organizations(limit=100).auto_paging_iter()}
    assert org.id not in ids


def test_list_filters_by_domains(client: WorkOSClient) -> None:
    d1, d2, other = unique_domain(), unique_domain(), unique_domain()
    o1 = client.organizations.create_organization(name=unique("org"), domains=[d1])
    o2 = client.organizations.create_organization(
        name=unique("org"), domain_data=[OrganizationDomainData(domain=d2, state="verified")]
    )
    client.organizations.create_organization(name=unique("org"), domains=[other])
    only_one = client.organizations.list_organizations(domains=[d1])
    assert [o.id for o in only_one.data] == [o1.id]
    both = client.organizations.list_organizations(domains=[d1, d2], order="asc")
    assert [o.id for o in both.data] == [o1.id, o2.id]
    none = client.organizations.list_organizations(domains=[unique_domain()])
    assert none.data == []
    assert none.list_metadata.after is None


def test_duplicate_external_id_is_rejected(client: WorkOSClient) -> None:
    external_id = unique("ext")
    first = client.organizations.create_organization(name=unique("org"), external_id=external_id)
    with pytest.raises(BadRequestError) as exc:
        client.organizations.create_organization(name=unique("org"), external_id=external_id)
    assert exc.value.code == "external_id_already_used"
    other = client.organizations.create_organization(name=unique("org"))
    with pytest.raises(BadRequestError) as exc:
        client.organizations.update_organization(other.id, external_id=external_id)
    assert exc.value.code == "external_id_already_used"
    assert client.organizations.get_organization_by_external_id(external_id).id == first.id


# --- organization domains -------------------------------------------------------------


def test_organization_domain_lifecycle(client: WorkOSClient) -> None:
    org = client.organizations.create_organization(name=unique("org"))
    domain = unique_domain()
    created = client.organization_domains.create_organization_domain(
        domain=domain, organization_id=org.id
    )
    assert DOMAIN_ID_RE.match(created.id), created.id
    assert created.object == "organization_domain"
    assert created.domain == domain
    assert created.organization_id == org.id
    assert created.state is not None and created.state.value == "pending"
    assert created.verification_strategy is not None
    assert created.verification_strategy.value == "dns"
    assert created.verification_token, "a DNS-verified domain needs a token"
    assert created.verification_prefix, "a DNS-verified domain needs a prefix"

    fetched = client.organization_domains.get_organization_domain(created.id)
    assert fetched.to_dict() == created.to_dict()

    with_domain = client.organizations.get_organization(org.id)
    assert [d.id for d in with_domain.domains] == [created.id]
    assert with_domain.domains[0].to_dict() == created.to_dict()

    assert client.organization_domains.delete_organization_domain(created.id) is None
    with pytest.raises(NotFoundError):
        client.organization_domains.get_organization_domain(created.id)
    assert client.organizations.get_organization(org.id).domains == []


def test_verify_without_the_txt_record_stays_pending(client: WorkOSClient) -> None:
    org = client.organizations.create_organization(name=unique("org"))
    created = client.organization_domains.create_organization_domain(
        domain=unique_domain(), organization_id=org.id
    )
    result = client.organization_domains.verify_organization_domain(created.id)
    assert result.id == created.id
    assert result.domain == created.domain
    assert result.organization_id == org.id
    # DNS takes time to propagate: a missing record keeps the domain pending.
    assert result.state is not None and result.state.value == "pending"
    assert client.organization_domains.get_organization_domain(created.id).state == result.state


def test_verify_with_the_txt_record_succeeds(client: WorkOSClient, dns: FakeDns) -> None:
    org = client.organizations.create_organization(name=unique("org"))
    created = client.organization_domains.create_organization_domain(
        domain=unique_domain(), organization_id=org.id
    )
    assert created.verification_prefix and created.verification_token
    dns.set_txt(f"{created.verification_prefix}.{created.domain}",
                "unrelated=1", created.verification_token)
    result = client.organization_domains.verify_organization_domain(created.id)
    assert result.id == created.id
    assert result.state is not None and result.state.value == "verified"
    assert result.updated_at >= created.updated_at
    assert (f"{created.verification_prefix}.{created.domain}", 16) in dns.queries
    assert client.organization_domains.get_organization_domain(created.id).state == result.state
    org_view = client.organizations.get_organization(org.id)
    assert [(d.id, d.state.value if d.state else None) for d in org_view.domains] == [
        (created.id, "verified")
    ]
    with pytest.raises(BadRequestError) as exc:
        client.organization_domains.verify_organization_domain(created.id)
    assert exc.value.code == "domain_already_verified"


def test_verify_after_a_miss_can_succeed(client: WorkOSClient, dns: FakeDns) -> None:
    org = client.organizations.create_organization(name=unique("org"))
    created = client.organization_domains.create_organization_domain(
        domain=unique_domain(), organization_id=org.id
    )
    name = f"{created.verification_prefix}.{created.domain}"
    dns.set_txt(name, "wrong-token")
    assert client.organization_domains.verify_organization_domain(created.id).state.value == "pending"
    dns.set_txt(name, created.verification_token)
    assert client.organization_domains.verify_organization_domain(created.id).state.value == "verified"


def test_domain_already_taken_is_a_conflict(client: WorkOSClient) -> None:
    domain = unique_domain()
    first = client.organizations.create_organization(name=unique("org"))
    second = client.organizations.create_organization(name=unique("org"))
    client.organization_domains.create_organization_domain(domain=domain, organization_id=first.id)
    with pytest.raises(ConflictError) as exc:
        client.organization_domains.create_organization_domain(
            domain=domain, organization_id=second.id
        )
    assert exc.value.code == "domain_already_exists"
    assert client.organizations.get_organization(second.id).domains == []


def test_domain_for_missing_organization_is_rejected(client: WorkOSClient) -> None:
    missing = missing_id("org")
    with pytest.raises((NotFoundError, UnprocessableEntityError)) as exc:
        client.organization_domains.create_organization_domain(
            domain=unique_domain(), organization_id=missing
        )
    assert exc.value.code in ("entity_not_found", "invalid_request_parameters")


def test_missing_organization_domain_is_not_found(client: WorkOSClient) -> None:
    missing = missing_id("org_domain")
    with pytest.raises(NotFoundError) as exc:
        client.organization_domains.get_organization_domain(missing)
    assert exc.value.code == "entity_not_found"
    assert missing in str(exc.value.message)
    with pytest.raises(NotFoundError):
        client.organization_domains.delete_organization_domain(missing)
    with pytest.raises(NotFoundError):
        client.organization_domains.verify_organization_domain(missing)


def test_list_search_matches_the_name(client: WorkOSClient) -> None:
    tag = unique("Needle")
    hit = client.organizations.create_organization(name=f"Acme {tag} Inc")
    client.organizations.create_organization(name=unique("Haystack"))
    found = client.organizations.list_organizations(search=tag.lower())
    assert [o.id for o in found.data] == [hit.id]
    assert client.organizations.list_organizations(search=unique("absent")).data == []


def test_sdk_idempotency_key_replays_the_create(client: WorkOSClient) -> None:
    key = unique("idem")
    name = unique("org")
    first = client.organizations.create_organization(
        name=name, request_options={"idempotency_key": key}
    )
    again = client.organizations.create_organization(
        name=name, request_options={"idempotency_key": key}
    )
    assert again.to_dict() == first.to_dict()
    matching = [
        o.id for o in client.organizations.list_organizations(limit=100).auto_paging_iter()
        if o.name == name
    ]
    assert matching == [first.id]
    with pytest.raises(ConflictError) as exc:
        client.organizations.create_organization(
            name=unique("other"), request_options={"idempotency_key": key}
        )
    assert exc.value.code == "idempotency_error"
