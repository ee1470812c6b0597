"""Environments on a persistent SQLite server: keys, isolation, restarts.

One server for the module on a fresh database file; `vestibule admin` runs
beside it against the same file, as an operator would.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest
from workos import AuthenticationError, NotFoundError

import harness
from contract import Contract
from harness import Api, ServerProcess, sdk, unique

KEY_RE = re.compile(r"^sk_test_\S{16,}$")


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite") / "vestibule.db"
    return harness.sqlite_url(path)


@pytest.fixture(scope="module")
def persistent(db_url: str) -> Iterator[ServerProcess]:
    server = harness.start_server("--database", db_url)
    try:
        yield server
    finally:
        alive = server.proc.poll() is None
        server.stop()
        assert alive, f"server died during the module:\n{server.stderr_text()[-4000:]}"


@pytest.fixture(scope="module")
def first_env(persistent: ServerProcess) -> Dict[str, str]:
    assert persistent.initial_api_key, f"no 'initial API key:' line in {persistent.stdout_lines}"
    assert persistent.initial_client_id, f"no 'client id:' line in {persistent.stdout_lines}"
    assert KEY_RE.match(persistent.initial_api_key), persistent.initial_api_key
    return {"api_key": persistent.initial_api_key, "client_id": persistent.initial_client_id}


def new_environment(db_url: str) -> Dict[str, Any]:
    """`vestibule admin environments create`, run while the server is up."""
    name = unique("env")
    out = harness.admin(db_url, "environments", "create", "--name", name)
    env = out["environment"]
    assert env["id"].startswith("environment_"), out
    assert env.get("name") == name, out
    assert KEY_RE.match(out["api_key"]), out
    return {"id": env["id"], "api_key": out["api_key"]}


@pytest.fixture
def second_env(db_url: str, persistent: ServerProcess) -> Dict[str, Any]:
    return new_environment(db_url)


def test_initial_key_works_and_dev_key_does_not(
    persistent: ServerProcess, first_env: Dict[str, str]
) -> None:
    with sdk(persistent, first_env["api_key"], first_env["client_id"]) as client:
        org = client.organizations.create_organization(name=unique("org"))
        assert client.organizations.get_organization(org.id).id == org.id
    # Without --dev the well-known development key must not exist.
    with sdk(persistent, harness.DEV_API_KEY) as dev:
        with pytest.raises(AuthenticationError):
            dev.organizations.list_organizations()


def test_second_environment_sees_nothing_of_the_first(
    persistent: ServerProcess, first_env: Dict[str, str], second_env: Dict[str, Any],
    contract: Contract,
) -> None:
    with sdk(persistent, first_env["api_key"]) as one, sdk(persistent, second_env["api_key"]) as two:
        external_id = unique("ext")
        org1 = one.organizations.create_organization(name="Env One", external_id=external_id)
        domain1 = one.organization_domains.create_organization_domain(
            domain=harness.unique_domain(), organization_id=org1.id
        )

        assert list(two.organizations.list_organizations(limit=100).auto_paging_iter()) == []
        with pytest.raises(NotFoundError):
            two.organizations.get_organization(org1.id)
        with pytest.raises(NotFoundError):
            two.organizations.get_organization_by_external_id(external_id)
        with pytest.raises(NotFoundError):
            two.organizations.update_organization(org1.id, name="hijack")
        with pytest.raises(NotFoundError):
            two.organizations.delete_organization(org1.id)
        with pytest.raises(NotFoundError):
            two.organization_domains.get_organization_domain(domain1.id)
        with pytest.raises(NotFoundError):
            two.organization_domains.delete_organization_domain(domain1.id)
        assert list(two.events.list_events(events=[], limit=100).auto_paging_iter()) == []
        assert list(two.events.list_events(events=[], organization_id=org1.id).auto_paging_iter()) == []

        # The same external id and domain are free in another environment.
        org2 = two.organizations.create_organization(name="Env Two", external_id=external_id)
        assert two.organizations.get_organization_by_external_id(external_id).id == org2.id
        assert one.organizations.get_organization_by_external_id(external_id).id == org1.id

        ids_one = {o.id for o in one.organizations.list_organizations(limit=100).auto_paging_iter()}
        ids_two = {o.id for o in two.organizations.list_organizations(limit=100).auto_paging_iter()}
        assert org1.id in ids_one and org2.id not in ids_one
        assert ids_two == {org2.id}
        events_two = list(two.events.list_events(events=[], limit=100).auto_paging_iter())
        assert [(e.event, e.data.id) for e in events_two] == [("organization.created", org2.id)]

        assert one.organizations.get_organization(org1.id).name == "Env One"
        assert [d.id for d in one.organizations.get_organization(org1.id).domains] == [domain1.id]

    # Raw: the cross-environment 404 has the documented shape.
    api = Api(persistent.base_url, second_env["api_key"], contract)
    try:
        r = api.get(f"/organizations/{org1.id}")
        assert r.status_code == 404
        assert r.json() == {
            "message": f"Organization not found: '{org1.id}'.", "code": "entity_not_found",
        }
    finally:
        api.close()


def test_admin_api_keys_create_and_revoke(
    persistent: ServerProcess, db_url: str, second_env: Dict[str, Any]
) -> None:
    created = harness.admin(db_url, "api-keys", "create", "--environment", second_env["id"])
    assert created["id"].startswith("api_key_"), created
    assert created["api_key"].startswith("sk_"), created
    assert created["api_key"] != second_env["api_key"]
    with sdk(persistent, created["api_key"]) as extra, sdk(persistent, second_env["api_key"]) as two:
        org = extra.organizations.create_organization(name=unique("org"))
        # Both keys of one environment see the same data.
        assert two.organizations.get_organization(org.id).id == org.id

        harness.admin_raw(db_url, "api-keys", "revoke", created["id"])
        # A server trusts a key it resolved for up to a second; then the revocation holds.
        deadline = time.monotonic() + 3
        while True:
            try:
                extra.organizations.get_organization(org.id)
            except AuthenticationError:
                break
            assert time.monotonic() < deadline, "a revoked key stops working within a second"
            time.sleep(0.05)
        with pytest.raises(AuthenticationError):
            extra.organizations.get_organization(org.id)
        # Revoking one key leaves the environment's other key working.
        assert two.organizations.get_organization(org.id).id == org.id


def test_data_survives_a_restart(tmp_path: Path) -> None:
    db_url = harness.sqlite_url(tmp_path / "restart.db")
    first = harness.start_server("--database", db_url)
    try:
        api_key = first.initial_api_key
        assert api_key, first.stdout_lines
        with sdk(first, api_key) as client:
            org = client.organizations.create_organization(
                name="Durable", metadata={"k": "v"}, external_id=unique("ext")
            )
    finally:
        first.stop()
    second = harness.start_server("--database", db_url)
    try:
        assert second.initial_api_key is None, (
            f"keys are printed only on an empty database: {second.stdout_lines}"
        )
        with sdk(second, api_key) as client:
            fetched = client.organizations.get_organization(org.id)
            assert fetched.to_dict() == org.to_dict()
            events = list(client.events.list_events(
                events=["organization.created"], organization_id=org.id
            ).auto_paging_iter())
            assert [e.data.id for e in events] == [org.id]
    finally:
        second.stop()
