"""Contract check: every implemented operation, raw, validated against the official spec.

`Api` validates each response body against the schema the spec declares for
its path + method + status (2xx bodies always; error bodies where the spec has
a schema, else the WorkOS error envelope). This test drives every operation
the server implements and then checks that each (operation, status) pair
below was actually seen and validated.
"""

from __future__ import annotations

from harness import Api, missing_id, unique, unique_domain

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

    missing_pairs = EXPECTED - api.seen
    assert not missing_pairs, f"operations not exercised/validated: {sorted(missing_pairs)}"
