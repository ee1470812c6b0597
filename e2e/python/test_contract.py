"""Contract check: every implemented operation, raw, validated against the official spec.

`Api` validates each response body against the schema the spec declares for
its path + method + status (2xx bodies always; error bodies where the spec has
a schema, else the WorkOS error envelope). This test drives every operation
the server implements and then checks that each (operation, status) pair
below was actually seen and validated.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from harness import Api, missing_id, unique, unique_domain


def ok(r: httpx.Response, status: int = 200) -> None:
    """Fails the test, showing the body, unless `r` answered `status`."""
    if r.status_code != status:
        pytest.fail(f"{r.status_code}: {r.text}")


def assert_all_seen(api: Api, expected: set) -> None:
    """Every (method, path, status) in `expected` was answered and validated against the spec."""
    missing_pairs = expected - api.seen
    assert not missing_pairs, f"operations not exercised/validated: {sorted(missing_pairs)}"


EXPECTED = {
    ("POST", "/organizations", 201),
    ("POST", "/organizations", 422),
    ("GET", "/organizations", 200),
    ("GET", "/organizations/{id}", 200),
    ("GET", "/organizations/{id}", 404),
    ("GET", "/organizations/external_id/{external_id}", 200),
    ("GET", "/organizations/external_id/{external_id}", 404),
    ("PUT", "/organizations/{id}", 200),
    ("PUT", "/organizations/{id}", 404),
    ("PUT", "/organizations/{id}", 422),
    ("POST", "/organization_domains", 201),
    ("POST", "/organization_domains", 409),
    ("GET", "/organization_domains/{id}", 200),
    ("GET", "/organization_domains/{id}", 404),
    ("POST", "/organization_domains/{id}/verify", 201),
    ("DELETE", "/organization_domains/{id}", 204),
    ("DELETE", "/organization_domains/{id}", 404),
    ("GET", "/events", 200),
}


def test_every_implemented_operation_matches_the_spec(fresh_api: Api) -> None:
    api = fresh_api
    external_id = unique("ext")
    d_verified, d_pending, d_extra = unique_domain(), unique_domain(), unique_domain()

    r = api.post("/organizations", json={
        "name": "Contract Corp",
        "domain_data": [{"domain": d_verified, "state": "verified"},
                        {"domain": d_pending, "state": "pending"}],
        "metadata": {"tier": "diamond"},
        "external_id": external_id,
        "allow_profiles_outside_organization": False,
    })
    assert r.status_code == 201, r.text
    org = r.json()
    assert org["object"] == "organization" and org["external_id"] == external_id
    assert {d["domain"]: d["state"] for d in org["domains"]} == {
        d_verified: "verified", d_pending: "pending",
    }

    plain = api.post("/organizations", json={"name": "Plain"}).json()
    assert plain["domains"] == [] and plain["metadata"] == {} and plain["external_id"] is None

    assert api.post("/organizations", json={"domains": ["x.test"]}).status_code == 422

    listed = api.get("/organizations", params={"order": "asc"}).json()
    assert [o["id"] for o in listed["data"]] == [org["id"], plain["id"]]
    assert listed["list_metadata"] == {"before": None, "after": None}
    paged = api.get("/organizations", params={"limit": 1, "order": "asc"}).json()
    assert paged["list_metadata"] == {"before": None, "after": org["id"]}

    assert api.get(f"/organizations/{org['id']}").json() == org
    missing = missing_id("org")
    r = api.get(f"/organizations/{missing}")
    assert r.status_code == 404
    assert r.json() == {"message": f"Organization not found: '{missing}'.", "code": "entity_not_found"}

    assert api.get(f"/organizations/external_id/{external_id}").json() == org
    assert api.get(f"/organizations/external_id/{unique('none')}").status_code == 404

    r = api.put(f"/organizations/{org['id']}", json={
        "name": "Contract Corp 2", "metadata": {"tier": "gold"}, "stripe_customer_id": "cus_123",
    })
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["name"] == "Contract Corp 2" and updated["metadata"] == {"tier": "gold"}
    assert updated["stripe_customer_id"] == "cus_123"
    assert api.put(f"/organizations/{missing}", json={"name": "x"}).status_code == 404
    assert api.put(f"/organizations/{org['id']}", json={"name": 7}).status_code == 422

    r = api.post("/organization_domains", json={"domain": d_extra, "organization_id": org["id"]})
    assert r.status_code == 201, r.text
    domain = r.json()
    assert domain["object"] == "organization_domain" and domain["state"] == "pending"
    r = api.post("/organization_domains", json={"domain": d_extra, "organization_id": plain["id"]})
    assert r.status_code == 409 and r.json()["code"] == "domain_already_exists"

    assert api.get(f"/organization_domains/{domain['id']}").json() == domain
    assert api.get(f"/organization_domains/{missing_id('org_domain')}").status_code == 404

    r = api.post(f"/organization_domains/{domain['id']}/verify")
    assert r.status_code == 201, r.text
    assert r.json()["id"] == domain["id"]

    assert api.delete(f"/organization_domains/{domain['id']}").status_code == 204
    assert api.delete(f"/organization_domains/{domain['id']}").status_code == 404

    r = api.delete(f"/organizations/{plain['id']}")
    assert r.status_code in (200, 202, 204), r.text
    assert api.get(f"/organizations/{plain['id']}").status_code == 404

    # Every event so far, each validated against its EventSchema variant.
    events = api.get("/events", params={"limit": 100}).json()
    names = [e["event"] for e in events["data"]]
    for expected in ("organization.created", "organization.updated", "organization.deleted",
                     "organization_domain.created", "organization_domain.deleted"):
        assert expected in names, names
    assert events["list_metadata"]["after"] == events["data"][-1]["id"]

    assert_all_seen(api, EXPECTED)


PEOPLE_EXPECTED = {
    ("POST", "/user_management/users", 201),
    ("POST", "/user_management/users", 400),
    ("GET", "/user_management/users", 200),
    ("GET", "/user_management/users/{id}", 200),
    ("GET", "/user_management/users/{id}", 404),
    ("GET", "/user_management/users/external_id/{external_id}", 200),
    ("PUT", "/user_management/users/{id}", 200),
    ("DELETE", "/user_management/users/{id}", 204),
    ("POST", "/user_management/organization_memberships", 201),
    ("POST", "/user_management/organization_memberships", 404),
    ("POST", "/user_management/organization_memberships", 422),
    ("GET", "/user_management/organization_memberships", 200),
    ("GET", "/user_management/organization_memberships/{id}", 200),
    ("PUT", "/user_management/organization_memberships/{id}", 200),
    ("PUT", "/user_management/organization_memberships/{id}/deactivate", 200),
    ("PUT", "/user_management/organization_memberships/{id}/reactivate", 200),
    ("DELETE", "/user_management/organization_memberships/{id}", 204),
    ("POST", "/authorization/permissions", 201),
    ("GET", "/authorization/permissions", 200),
    ("GET", "/authorization/permissions/{slug}", 200),
    ("PATCH", "/authorization/permissions/{slug}", 200),
    ("DELETE", "/authorization/permissions/{slug}", 204),
    ("POST", "/authorization/roles", 201),
    ("GET", "/authorization/roles", 200),
    ("GET", "/authorization/roles/{slug}", 200),
    ("PATCH", "/authorization/roles/{slug}", 200),
    ("PUT", "/authorization/roles/{slug}/permissions", 200),
    ("POST", "/authorization/roles/{slug}/permissions", 200),
    ("POST", "/authorization/organizations/{organizationId}/roles", 201),
    ("GET", "/authorization/organizations/{organizationId}/roles", 200),
    ("GET", "/authorization/organizations/{organizationId}/roles/{slug}", 200),
    ("PATCH", "/authorization/organizations/{organizationId}/roles/{slug}", 200),
    ("PUT", "/authorization/organizations/{organizationId}/roles/{slug}/permissions", 200),
    ("POST", "/authorization/organizations/{organizationId}/roles/{slug}/permissions", 200),
    ("DELETE", "/authorization/organizations/{organizationId}/roles/{slug}/permissions/{permissionSlug}", 200),
    ("DELETE", "/authorization/organizations/{organizationId}/roles/{slug}", 204),
    ("DELETE", "/authorization/organizations/{organizationId}/roles/{slug}", 409),
    ("POST", "/authorization/organization_memberships/{organization_membership_id}/check", 200),
    ("POST", "/user_management/invitations", 201),
    ("GET", "/user_management/invitations", 200),
    ("GET", "/user_management/invitations/{id}", 200),
    ("GET", "/user_management/invitations/by_token/{token}", 200),
    ("POST", "/user_management/invitations/{id}/accept", 200),
    ("POST", "/user_management/invitations/{id}/accept", 400),
    ("POST", "/user_management/invitations/{id}/resend", 200),
    ("POST", "/user_management/invitations/{id}/revoke", 200),
    ("GET", "/events", 200),
}


def test_user_management_operations_match_the_spec(fresh_api: Api) -> None:
    """Users, memberships, roles, permissions, invitations: every 2xx body validated."""
    api = fresh_api

    org = api.post("/organizations", json={"name": "People Corp"}).json()
    ext = unique("ext")
    r = api.post("/user_management/users", json={
        "email": f"{unique('u')}@example.test", "password": "correct horse battery",
        "first_name": "Con", "last_name": "Tract", "external_id": ext, "metadata": {"k": "v"},
    })
    ok(r, 201)
    user = r.json()
    assert user["object"] == "user" and "password" not in user
    ok(api.post("/user_management/users", json={"email": user["email"]}), 400)
    ok(api.post("/user_management/users", json={
        "email": f"{unique('u')}@example.test", "password": "p" * 129}), 400)
    ok(api.get(f"/user_management/users/{user['id']}"))
    ok(api.get(f"/user_management/users/{missing_id('user')}"), 404)
    ok(api.get(f"/user_management/users/external_id/{ext}"))
    ok(api.get("/user_management/users", params={"email": user["email"]}))
    ok(api.get("/user_management/users", params={"organization_id": org["id"]}))
    ok(api.put(f"/user_management/users/{user['id']}", json={"first_name": "Con2"}))

    ok(api.post("/authorization/permissions", json={"slug": "posts:read", "name": "Read"}), 201)
    ok(api.post("/authorization/permissions", json={"slug": "posts:write", "name": "Write"}), 201)
    ok(api.get("/authorization/permissions"))
    ok(api.get("/authorization/permissions/posts:read"))
    ok(api.request("PATCH", "/authorization/permissions/posts:read", json={"name": "Read all"}))
    ok(api.post("/authorization/roles", json={"slug": "editor", "name": "Editor"}), 201)
    ok(api.get("/authorization/roles"))
    ok(api.get("/authorization/roles/editor"))
    ok(api.request("PATCH", "/authorization/roles/editor", json={"description": "Edits"}))
    ok(api.put("/authorization/roles/editor/permissions", json={"permissions": ["posts:read"]}))
    ok(api.post("/authorization/roles/editor/permissions", json={"slug": "posts:write"}))

    base = f"/authorization/organizations/{org['id']}/roles"
    r = api.post(base, json={"name": "Auditor"})
    ok(r, 201)
    org_role = r.json()["slug"]
    ok(api.post(base, json={"name": "Editor here", "slug": "editor"}), 201)
    ok(api.get(base))
    ok(api.get(f"{base}/{org_role}"))
    ok(api.request("PATCH", f"{base}/{org_role}", json={"name": "Auditor 2"}))
    ok(api.put(f"{base}/{org_role}/permissions", json={"permissions": ["posts:read"]}))
    ok(api.post(f"{base}/{org_role}/permissions", json={"slug": "posts:write"}))
    r = api.delete(f"{base}/{org_role}/permissions/posts:write")
    assert r.status_code in (200, 204), r.text
    if r.status_code == 204:
        pytest.fail("DELETE …/roles/{slug}/permissions/{permissionSlug}: the spec declares 200 with the role")

    r = api.post("/user_management/organization_memberships", json={
        "user_id": user["id"], "organization_id": org["id"], "role_slug": "editor"})
    ok(r, 201)
    m = r.json()
    assert m["role"] == {"slug": "editor"} and m["roles"] == [{"slug": "editor"}]
    ok(api.post("/user_management/organization_memberships", json={
        "user_id": user["id"], "organization_id": missing_id("org")}), 404)
    ok(api.post("/user_management/organization_memberships", json={
        "user_id": user["id"], "organization_id": org["id"], "role_slug": "nope"}), 422)
    ok(api.get("/user_management/organization_memberships", params={"organization_id": org["id"]}))
    ok(api.get(f"/user_management/organization_memberships/{m['id']}"))
    r = api.post(f"/authorization/organization_memberships/{m['id']}/check",
                 json={"permission_slug": "posts:read"})
    ok(r)
    assert r.json() == {"authorized": False}, "the organization's `editor` overrides the environment's"
    ok(api.put(f"/user_management/organization_memberships/{m['id']}", json={"role_slug": org_role}))
    ok(api.delete(f"{base}/{org_role}"), 409)
    ok(api.put(f"/user_management/organization_memberships/{m['id']}/deactivate"))
    ok(api.put(f"/user_management/organization_memberships/{m['id']}/reactivate"))
    ok(api.put(f"/user_management/organization_memberships/{m['id']}", json={"role_slug": "member"}))
    ok(api.delete(f"{base}/{org_role}"), 204)

    r = api.post("/user_management/invitations", json={
        "email": f"{unique('inv')}@example.test", "organization_id": org["id"],
        "role_slug": "editor", "inviter_user_id": user["id"]})
    ok(r, 201)
    inv = r.json()
    ok(api.get("/user_management/invitations", params={"organization_id": org["id"]}))
    ok(api.get(f"/user_management/invitations/{inv['id']}"))
    ok(api.get(f"/user_management/invitations/by_token/{inv['token']}"))
    ok(api.post(f"/user_management/invitations/{inv['id']}/resend"))
    ok(api.post(f"/user_management/invitations/{inv['id']}/accept"))
    ok(api.post(f"/user_management/invitations/{inv['id']}/accept"), 400)
    inv2 = api.post("/user_management/invitations", json={
        "email": f"{unique('inv')}@example.test"}).json()
    ok(api.post(f"/user_management/invitations/{inv2['id']}/revoke"))

    # The spec's 200s here have no body: 204 is the house rule for bodiless successes.
    ok(api.delete(f"/user_management/organization_memberships/{m['id']}"), 204)
    ok(api.delete(f"/user_management/users/{user['id']}"), 204)
    ok(api.delete("/authorization/permissions/posts:write"), 204)

    events = api.get("/events", params={"limit": 100, "events": ",".join([
        "user.created", "user.updated", "user.deleted",
        "organization_membership.created", "organization_membership.updated",
        "organization_membership.deleted", "role.created", "role.updated",
        "organization_role.created", "organization_role.updated", "organization_role.deleted",
        "permission.created", "permission.updated", "permission.deleted",
        "invitation.created", "invitation.accepted", "invitation.revoked", "invitation.resent",
    ])}).json()
    assert len(events["data"]) >= 18

    assert_all_seen(api, PEOPLE_EXPECTED)


AUDIT_LOGS_EXPECTED = {
    ("POST", "/audit_logs/events", 200),
    ("POST", "/audit_logs/actions/{actionName}/schemas", 201),
    ("GET", "/audit_logs/actions/{actionName}/schemas", 200),
    ("GET", "/audit_logs/actions", 200),
    ("POST", "/audit_logs/exports", 201),
    ("GET", "/audit_logs/exports/{auditLogExportId}", 200),
    ("GET", "/organizations/{id}/audit_logs_retention", 200),
    ("PUT", "/organizations/{id}/audit_logs_retention", 200),
    ("GET", "/organizations/{id}/audit_log_configuration", 200),
}


def test_audit_log_operations_match_the_spec(fresh_api: Api) -> None:
    """Events, schemas, actions, exports (pending and ready), retention: every 2xx body validated."""
    api = fresh_api
    iso = lambda t: t.isoformat(timespec="milliseconds").replace("+00:00", "Z")  # noqa: E731
    now = datetime.now(timezone.utc)

    org = api.post("/organizations", json={"name": "Audit Corp"}).json()
    schema = {
        "actor": {"metadata": {"type": "object", "properties": {"role": {"type": "string"}}}},
        "targets": [{"type": "invoice", "metadata": {"type": "object", "properties": {"cost": {"type": "number"}}}},
                    {"type": "team"}],
        "metadata": {"type": "object", "properties": {"reason": {"type": "string"}}},
    }
    r = api.post("/audit_logs/actions/invoice.paid/schemas", json=schema)
    ok(r, 201)
    assert (r.json()["object"], r.json()["version"]) == ("audit_log_schema", 1)
    ok(api.post("/audit_logs/actions/user.signed_in/schemas", json={"targets": [{"type": "user"}]}), 201)
    r = api.get("/audit_logs/actions/invoice.paid/schemas")
    ok(r)
    assert [s["version"] for s in r.json()["data"]] == [1]
    r = api.get("/audit_logs/actions", params={"limit": 10})
    ok(r)
    assert sorted(a["name"] for a in r.json()["data"]) == ["invoice.paid", "user.signed_in"]

    r = api.post("/audit_logs/events", headers={"Idempotency-Key": unique("idem")}, json={
        "organization_id": org["id"],
        "event": {
            "action": "invoice.paid",
            "occurred_at": iso(now - timedelta(minutes=5)),
            "version": 1,
            "actor": {"id": "user_1", "type": "user", "name": "Ada", "metadata": {"role": "admin"}},
            "targets": [{"id": "inv_1", "type": "invoice", "metadata": {"cost": 9.5}}, {"id": "team_1", "type": "team"}],
            "context": {"location": "192.0.2.1", "user_agent": "contract/1"},
            "metadata": {"reason": "renewal"},
        },
    })
    ok(r)
    assert r.json() == {"success": True}
    ok(api.post("/audit_logs/events", json={
        "organization_id": org["id"],
        "event": {"action": "doc.viewed", "occurred_at": iso(now - timedelta(minutes=4)),
                  "actor": {"id": "user_2", "type": "user"}, "targets": [],
                  "context": {"location": "192.0.2.2"}},
    }))

    r = api.post("/audit_logs/exports", json={
        "organization_id": org["id"], "range_start": iso(now - timedelta(days=1)),
        "range_end": iso(now + timedelta(minutes=1)), "actions": ["invoice.paid"],
    })
    ok(r, 201)
    export = r.json()
    assert (export["state"], export["url"]) == ("pending", None)
    deadline = time.monotonic() + 20.0
    while True:
        r = api.get(f"/audit_logs/exports/{export['id']}")
        ok(r)
        if r.json()["state"] != "pending" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert r.json()["state"] == "ready" and r.json()["url"], r.text

    path = f"/organizations/{org['id']}/audit_logs_retention"
    r = api.get(path)
    ok(r)
    assert r.json() == {"retention_period_in_days": None}
    r = api.put(path, json={"retention_period_in_days": 30})
    ok(r)
    assert r.json() == {"retention_period_in_days": 30}
    r = api.get(f"/organizations/{org['id']}/audit_log_configuration")
    ok(r)
    assert r.json() == {"organization_id": org["id"], "retention_period_in_days": 30, "state": "active"}

    assert_all_seen(api, AUDIT_LOGS_EXPECTED)
