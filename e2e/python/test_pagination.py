"""Cursor pagination over 250 organizations through the SDK's auto-pagination.

The module gets its own server (the `server` fixture is module-scoped), so the
250 organizations created here are the only ones it holds.
"""

from __future__ import annotations

from typing import List

import pytest
from workos import WorkOSClient
from workos.organizations.models import Organization

from harness import Api

TOTAL = 250


@pytest.fixture(scope="module")
def created(client: WorkOSClient) -> List[Organization]:
    orgs = [
        client.organizations.create_organization(name=f"Paged {i:03d}", metadata={"i": str(i)})
        for i in range(TOTAL)
    ]
    assert len({o.id for o in orgs}) == TOTAL
    return orgs


def ids(orgs: List[Organization]) -> List[str]:
    return [o.id for o in orgs]


def test_ids_sort_in_creation_order(created: List[Organization]) -> None:
    # Time-ordered ids (ULIDs) are the keyset the pagination relies on.
    assert ids(created) == sorted(ids(created))


@pytest.mark.parametrize("limit", [None, 7, 100])
def test_auto_pagination_ascending_returns_each_once_in_order(
    client: WorkOSClient, created: List[Organization], limit: int | None
) -> None:
    page = client.organizations.list_organizations(order="asc", limit=limit)
    assert len(page.data) == (limit or 10)
    seen = ids(list(page.auto_paging_iter()))
    assert len(seen) == TOTAL
    assert seen == ids(created)


@pytest.mark.parametrize("limit", [None, 100])
def test_auto_pagination_descending_returns_each_once_in_order(
    client: WorkOSClient, created: List[Organization], limit: int | None
) -> None:
    page = client.organizations.list_organizations(order="desc", limit=limit)
    seen = ids(list(page.auto_paging_iter()))
    assert len(seen) == TOTAL
    assert seen == ids(created)[::-1]


def test_default_order_is_descending(client: WorkOSClient, created: List[Organization]) -> None:
    page = client.organizations.list_organizations(order=None)
    assert ids(page.data) == ids(created)[::-1][:10]


def test_list_metadata_cursors(client: WorkOSClient, created: List[Organization]) -> None:
    asc = ids(created)
    first = client.organizations.list_organizations(order="asc", limit=100)
    assert ids(first.data) == asc[:100]
    assert first.list_metadata.before is None
    assert first.list_metadata.after == asc[99]

    second = client.organizations.list_organizations(order="asc", limit=100, after=first.after)
    assert ids(second.data) == asc[100:200]
    assert second.list_metadata.before == asc[100]
    assert second.list_metadata.after == asc[199]

    last = client.organizations.list_organizations(order="asc", limit=100, after=second.after)
    assert ids(last.data) == asc[200:]
    assert last.list_metadata.before == asc[200]
    assert last.list_metadata.after is None

    # `before` pages back: the items just before the cursor, still in list order.
    back = client.organizations.list_organizations(order="asc", limit=100, before=last.before)
    assert ids(back.data) == asc[100:200]
    back = client.organizations.list_organizations(order="asc", limit=10, before=asc[50])
    assert ids(back.data) == asc[40:50]


def test_before_cursor_descending(client: WorkOSClient, created: List[Organization]) -> None:
    desc = ids(created)[::-1]
    back = client.organizations.list_organizations(order="desc", limit=10, before=desc[30])
    assert ids(back.data) == desc[20:30]
    after = client.organizations.list_organizations(order="desc", limit=10, after=desc[30])
    assert ids(after.data) == desc[31:41]


def test_exact_multiple_has_no_dangling_cursor(
    client: WorkOSClient, created: List[Organization]
) -> None:
    asc = ids(created)
    page = client.organizations.list_organizations(order="asc", limit=50, after=asc[199])
    assert ids(page.data) == asc[200:]
    assert page.list_metadata.after is None
    beyond = client.organizations.list_organizations(order="asc", limit=50, after=asc[-1])
    assert beyond.data == []
    assert beyond.list_metadata.after is None


def test_cursor_of_a_deleted_organization_still_pages(
    fresh_client: WorkOSClient, fresh_api: Api
) -> None:
    # Own server: this test deletes, the module's 250 stay intact.
    asc = [fresh_client.organizations.create_organization(name=f"C{i}").id for i in range(20)]
    victim = asc[10]
    fresh_client.organizations.delete_organization(victim)
    page = fresh_client.organizations.list_organizations(order="asc", limit=5, after=victim)
    assert ids(page.data) == asc[11:16]
    page = fresh_client.organizations.list_organizations(order="desc", limit=5, after=victim)
    assert ids(page.data) == asc[5:10][::-1]
    page = fresh_client.organizations.list_organizations(order="asc", limit=5, before=victim)
    assert ids(page.data) == asc[5:10]
    everything = fresh_client.organizations.list_organizations(order="asc", limit=3)
    assert ids(list(everything.auto_paging_iter())) == asc[:10] + asc[11:]
    # The raw list body is valid against the spec (checked by the Api wrapper).
    body = fresh_api.get("/organizations", params={"order": "asc", "limit": 3, "after": victim}).json()
    assert [o["id"] for o in body["data"]] == asc[11:14]
