"""Error mapping as the Python SDK sees it: 401, 404, 400/422 with field errors."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from workos import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    UnprocessableEntityError,
    WorkOSClient,
)

import harness
from harness import missing_id, unique

VALIDATION_ERRORS = (BadRequestError, UnprocessableEntityError)


def count_orgs(client: WorkOSClient) -> int:
    return sum(1 for _ in client.organizations.list_organizations(limit=100).auto_paging_iter())


def field_errors(exc: Any) -> List[Dict[str, Any]]:
    errors = exc.errors
    if errors is None and exc.response_json:
        errors = exc.response_json.get("errors")
    assert isinstance(errors, list), f"no `errors` list in {exc.raw_body!r}"
    return errors


def test_missing_organization_is_not_found(client: WorkOSClient) -> None:
    missing = missing_id("org")
    with pytest.raises(NotFoundError) as exc:
        client.organizations.get_organization(missing)
    err = exc.value
    assert err.status_code == 404
    assert err.code == "entity_not_found"
    assert err.message == f"Organization not found: '{missing}'."
    assert err.request_id, "X-Request-ID must reach the SDK's exception"


@pytest.mark.parametrize("bad_id", ["not-an-id", "org_", "user_01HV5Z3V0N7D8QG4W6X9Y2B1CA"])
def test_malformed_or_foreign_id_is_not_found(client: WorkOSClient, bad_id: str) -> None:
    with pytest.raises(NotFoundError) as exc:
        client.organizations.get_organization(bad_id)
    assert exc.value.code == "entity_not_found"


def test_update_and_delete_of_missing_organization_are_not_found(client: WorkOSClient) -> None:
    missing = missing_id("org")
    with pytest.raises(NotFoundError) as exc:
        client.organizations.update_organization(missing, name="x")
    assert exc.value.code == "entity_not_found"
    with pytest.raises(NotFoundError) as exc:
        client.organizations.delete_organization(missing)
    assert exc.value.code == "entity_not_found"


def test_unknown_external_id_is_not_found(client: WorkOSClient) -> None:
    with pytest.raises(NotFoundError) as exc:
        client.organizations.get_organization_by_external_id(unique("nobody"))
    assert exc.value.code == "entity_not_found"


@pytest.mark.parametrize(
    "api_key",
    ["sk_test_wrong", "sk_test_defaultx", "not_even_a_key", ""],
    ids=["unknown", "near-miss", "not-sk", "no-header"],
)
def test_wrong_api_key_is_unauthorized(
    server: harness.ServerProcess, client: WorkOSClient, api_key: str
) -> None:
    existing = client.organizations.create_organization(name=unique("org"))
    before = count_orgs(client)
    # An empty key makes the SDK send no Authorization header at all.
    with harness.sdk(server, api_key=api_key) as bad:
        for call in (
            lambda: bad.organizations.list_organizations(),
            lambda: bad.organizations.get_organization(existing.id),
            lambda: bad.organizations.create_organization(name="never"),
            lambda: bad.organizations.update_organization(existing.id, name="never"),
            lambda: bad.organizations.delete_organization(existing.id),
            lambda: bad.events.list_events(events=["organization.created"]),
        ):
            with pytest.raises(AuthenticationError) as exc:
                call()
            assert exc.value.status_code == 401
            assert exc.value.code == "unauthorized"
            assert exc.value.message == "Unauthorized"
            assert exc.value.request_id
    assert count_orgs(client) == before
    assert client.organizations.get_organization(existing.id).name == existing.name


def test_missing_name_is_a_field_error(client: WorkOSClient) -> None:
    before = count_orgs(client)
    with pytest.raises(VALIDATION_ERRORS) as exc:
        # The SDK drops None fields: the body has no `name` at all.
        client.organizations.create_organization(name=None)  # type: ignore[arg-type]
    err = exc.value
    assert err.code == "invalid_request_parameters"
    assert {"field": "name", "code": "required"} in [
        {"field": e.get("field"), "code": e.get("code")} for e in field_errors(err)
    ]
    assert count_orgs(client) == before


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"name": 123}, "name"),
        ({"name": ["a"]}, "name"),
        ({"name": "ok", "metadata": "not-an-object"}, "metadata"),
        ({"name": "ok", "metadata": {"n": 1}}, "metadata"),
        ({"name": "ok", "external_id": 42}, "external_id"),
        ({"name": "ok", "domains": "example.test"}, "domains"),
        ({"name": "ok", "allow_profiles_outside_organization": "yes"},
         "allow_profiles_outside_organization"),
    ],
)
def test_wrong_types_are_field_errors(
    client: WorkOSClient, kwargs: Dict[str, Any], field: str
) -> None:
    before = count_orgs(client)
    with pytest.raises(VALIDATION_ERRORS) as exc:
        client.organizations.create_organization(**kwargs)
    err = exc.value
    assert err.code in ("invalid_request_parameters", "invalid_metadata"), err.raw_body
    if err.code == "invalid_request_parameters":
        fields = [e.get("field", "") for e in field_errors(err)]
        assert any(f == field or f.startswith(field + ".") or f.startswith(field + "[")
                   for f in fields), fields
    assert count_orgs(client) == before


def test_blank_name_is_rejected(client: WorkOSClient) -> None:
    before = count_orgs(client)
    with pytest.raises(VALIDATION_ERRORS) as exc:
        client.organizations.create_organization(name="")
    assert "name" in [e.get("field") for e in field_errors(exc.value)]
    assert count_orgs(client) == before


def test_bad_domain_data_state_is_rejected(client: WorkOSClient) -> None:
    from workos.organizations.models import OrganizationDomainData

    before = count_orgs(client)
    with pytest.raises(VALIDATION_ERRORS) as exc:
        client.organizations.create_organization(
            name="ok", domain_data=[OrganizationDomainData(domain="a.test", state="sideways")]
        )
    fields = [e.get("field", "") for e in field_errors(exc.value)]
    assert any(f.startswith("domain_data") for f in fields), fields
    assert count_orgs(client) == before


def test_metadata_limits_are_enforced(client: WorkOSClient) -> None:
    before = count_orgs(client)
    too_many = {f"k{i}": "v" for i in range(51)}
    too_long_value = {"k": "v" * 601}
    too_long_key = {"k" * 41: "v"}
    for metadata in (too_many, too_long_value, too_long_key):
        with pytest.raises(VALIDATION_ERRORS) as exc:
            client.organizations.create_organization(name="ok", metadata=metadata)
        assert exc.value.code in ("invalid_metadata", "invalid_request_parameters"), exc.value.raw_body
    assert count_orgs(client) == before
    # The limits themselves are accepted.
    at_limit = {f"k{i:02d}" + "x" * 37: "v" * 600 for i in range(50)}
    org = client.organizations.create_organization(name="ok", metadata=at_limit)
    assert org.metadata == at_limit


def test_invalid_update_changes_nothing(client: WorkOSClient) -> None:
    org = client.organizations.create_organization(name="Keep", metadata={"a": "b"})
    with pytest.raises(VALIDATION_ERRORS):
        client.organizations.update_organization(org.id, name=123)  # type: ignore[arg-type]
    with pytest.raises(VALIDATION_ERRORS):
        client.organizations.update_organization(org.id, name="", metadata={"a": "c"})
    fetched = client.organizations.get_organization(org.id)
    assert fetched.to_dict() == org.to_dict()
