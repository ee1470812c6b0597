"""Raw HTTP: hostile and odd input gets a WorkOS-shaped JSON error and changes nothing.

Every response here passes through `Api`, which checks it against the official
spec and the house contract (X-Request-ID, JSON bodies, timestamps).
"""

from __future__ import annotations

import json
import socket
import uuid
from typing import Any, Dict, List, Tuple

import httpx
import pytest

from harness import Api, ServerProcess, missing_id, unique, unique_domain


# The two counters below use the bare HTTP client on purpose: they are
# bookkeeping, and a contract failure in them would blame the wrong test.


def org_ids(api: Api) -> List[str]:
    out: List[str] = []
    params: Dict[str, Any] = {"limit": 100, "order": "asc"}
    while True:
        body = api.http.get("/organizations", params=params).json()
        out += [o["id"] for o in body["data"]]
        if not body["list_metadata"]["after"]:
            return out
        params["after"] = body["list_metadata"]["after"]


def event_count(api: Api) -> int:
    n, params = 0, {"limit": 100}
    while True:
        body = api.http.get("/events", params=params).json()
        n += len(body["data"])
        if not body["data"] or not body["list_metadata"]["after"]:
            return n
        params["after"] = body["list_metadata"]["after"]


def assert_error(r: httpx.Response, statuses: tuple[int, ...]) -> Dict[str, Any]:
    assert r.status_code in statuses, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert isinstance(body.get("message"), str) and body["message"]
    assert isinstance(body.get("code"), str) and body["code"]
    return body


@pytest.fixture
def unchanged(api: Api):
    """Asserts the test leaves the organization list and event stream as they were."""
    before_orgs, before_events = org_ids(api), event_count(api)
    yield
    assert org_ids(api) == before_orgs
    assert event_count(api) == before_events


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    "body",
    [b'{"name": "x"', b"{name: 'x'}", b'{"name": "x"} trailing', b"\xff\xfe{}", b"nul\x00l"],
    ids=["truncated", "not-json", "trailing", "bad-utf8", "nul"],
)
def test_malformed_json_is_rejected(api: Api, unchanged: None, body: bytes) -> None:
    # strict_errors=False: the spec's 400 schemas for this operation describe
    # business errors (invalid_metadata, ...), not a body that is not JSON.
    r = api.post("/organizations", content=body, headers=JSON, strict_errors=False)
    assert_error(r, (400, 422))


@pytest.mark.parametrize("body", ["[]", '"name"', "42", "null", "true"])
def test_non_object_json_is_rejected(api: Api, unchanged: None, body: str) -> None:
    r = api.post("/organizations", content=body, headers=JSON, strict_errors=False)
    assert_error(r, (400, 422))


def test_malformed_json_on_update_changes_nothing(api: Api) -> None:
    org = api.post("/organizations", json={"name": "Stays"}).json()
    r = api.put(f"/organizations/{org['id']}", content=b'{"name": ', headers=JSON,
                strict_errors=False)
    assert_error(r, (400, 422))
    assert api.get(f"/organizations/{org['id']}").json() == org


def test_oversized_body_is_413(api: Api, unchanged: None) -> None:
    big = json.dumps({"name": "x" * (1024 * 1024 + 10)}).encode()
    assert len(big) > 1024 * 1024
    r = api.post("/organizations", content=big, headers=JSON)
    body = assert_error(r, (413,))
    assert body["code"]
    # The server keeps serving afterwards.
    assert api.get("/organizations", params={"limit": 1}).status_code == 200


def test_empty_body_with_json_content_type_is_an_empty_object(api: Api, unchanged: None) -> None:
    # Golden rule 6: Go and Python send Content-Type: application/json on bodyless POSTs.
    r = api.post("/organizations", content=b"", headers=JSON)
    body = assert_error(r, (422,))
    assert {"field": "name", "code": "required"} in [
        {"field": e["field"], "code": e["code"]} for e in body["errors"]
    ]


def test_empty_body_verify_is_accepted(api: Api) -> None:
    org = api.post("/organizations", json={"name": unique()}).json()
    domain = api.post("/organization_domains",
                      json={"domain": unique_domain(), "organization_id": org["id"]}).json()
    for headers in (JSON, {}):
        r = api.post(f"/organization_domains/{domain['id']}/verify", content=b"", headers=headers)
        assert r.status_code in (200, 201), r.text
        assert r.json()["id"] == domain["id"]


def test_validation_error_shape(api: Api, unchanged: None) -> None:
    r = api.post("/organizations", json={})
    assert r.status_code == 422
    assert r.json() == {
        "message": "Validation failed.",
        "code": "invalid_request_parameters",
        "errors": [{"field": "name", "code": "required"}],
    }


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "abc"}, {"limit": "0"}, {"limit": "-1"}, {"limit": "101"},
        {"limit": "1.5"}, {"limit": "99999999999999999999999"},
        {"order": "sideways"}, {"order": "ASC;DROP"},
        {"after": "garbage"}, {"before": "garbage"}, {"after": "org_" + "!" * 26},
        {"after": "'; DROP TABLE organizations; --"},
    ],
    ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items())[:40],
)
def test_bad_list_parameters_are_4xx(api: Api, params: Dict[str, str]) -> None:
    api.post("/organizations", json={"name": unique()})  # a non-empty list to page over
    before = org_ids(api)
    r = api.get("/organizations", params=params)
    assert_error(r, (400, 422))
    assert org_ids(api) == before


@pytest.mark.parametrize(
    "params",
    [{"limit": "abc"}, {"limit": "0"}, {"limit": "101"}, {"after": "garbage"},
     {"range_start": "yesterday"}, {"range_end": "2024-13-45T99:00:00Z"}],
    ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items())[:40],
)
def test_bad_event_parameters_are_4xx(api: Api, params: Dict[str, str]) -> None:
    r = api.get("/events", params=params)
    assert_error(r, (400, 422))


def test_empty_query_values_are_absent(api: Api) -> None:
    # Python sends a None parameter as `key=`.
    api.post("/organizations", json={"name": unique()})
    r = api.get("/organizations?limit=&after=&before=&order=&domains=&search=")
    assert r.status_code == 200, r.text
    body = r.json()
    assert 1 <= len(body["data"]) <= 10
    r = api.get("/events?limit=&after=&events=&organization_id=&range_start=&range_end=")
    assert r.status_code == 200, r.text


def test_domains_filter_encodings_agree(api: Api) -> None:
    d1, d2 = unique_domain(), unique_domain()
    o1 = api.post("/organizations", json={"name": unique(), "domains": [d1]}).json()
    o2 = api.post("/organizations", json={"name": unique(), "domains": [d2]}).json()
    api.post("/organizations", json={"name": unique(), "domains": [unique_domain()]})
    for params in (
        [("domains", f"{d1},{d2}")],
        [("domains", d1), ("domains", d2)],
        [("domains[]", d1), ("domains[]", d2)],
    ):
        body = api.get("/organizations", params=[*params, ("order", "asc")]).json()
        assert [o["id"] for o in body["data"]] == [o1["id"], o2["id"]], params


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/nope"),
        ("GET", "/organizations/org_x/not_a_subresource"),
        ("POST", "/v1/organizations"),
        ("GET", "/user_management/waitlists"),
    ],
)
def test_unknown_routes_are_json_404(api: Api, method: str, path: str) -> None:
    r = api.request(method, path)
    assert_error(r, (404,))


def test_unsupported_method_is_json(api: Api) -> None:
    r = api.request("PATCH", "/organizations")
    assert_error(r, (404, 405))


def test_trailing_slash_is_tolerated(api: Api) -> None:
    org = api.post("/organizations", json={"name": unique()}).json()
    r = api.get(f"/organizations/{org['id']}/")
    assert r.status_code == 200, r.text
    assert r.json()["id"] == org["id"]


def test_missing_or_malformed_authorization(server: ServerProcess, contract, api: Api) -> None:
    before = org_ids(api)
    for headers in ({}, {"Authorization": "sk_test_default"},
                    {"Authorization": "Basic c2tfdGVzdF9kZWZhdWx0Og=="},
                    {"Authorization": "Bearer"}, {"Authorization": "Bearer sk_test_default x"},
                    {"Authorization": "bearer sk_test_wrong"}):
        anon = Api(server.base_url, None, contract)
        try:
            for method, path, kw in (
                ("GET", "/organizations", {}),
                ("POST", "/organizations", {"json": {"name": "never"}}),
                ("GET", "/events", {}),
                ("GET", f"/organizations/{missing_id('org')}", {}),
            ):
                r = anon.request(method, path, headers=headers, **kw)
                assert r.status_code == 401, (headers, method, path, r.text)
                assert r.json() == {"message": "Unauthorized", "code": "unauthorized"}
        finally:
            anon.close()
    assert org_ids(api) == before


def test_every_response_has_a_request_id(api: Api) -> None:
    seen = set()
    for r in (
        api.get("/organizations"),
        api.get(f"/organizations/{missing_id('org')}"),
        api.post("/organizations", json={}),
        api.get("/nope"),
    ):
        rid = r.headers["x-request-id"]
        assert rid and rid not in seen
        seen.add(rid)


def test_request_ids_are_unique_per_request(api: Api) -> None:
    ids = {api.get("/organizations", params={"limit": 1}).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


# --- Idempotency-Key --------------------------------------------------------------------


def test_idempotent_replay_returns_the_first_response(api: Api) -> None:
    key = str(uuid.uuid4())
    before = org_ids(api)
    payload = {"name": unique(), "metadata": {"a": "b"}}
    first = api.post("/organizations", json=payload, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    again = api.post("/organizations", json=payload, headers={"Idempotency-Key": key})
    assert again.status_code == first.status_code
    assert again.json() == first.json()
    assert org_ids(api) == before + [first.json()["id"]]
    created = [e for e in api.get("/events", params={
        "events": "organization.created", "organization_id": first.json()["id"]}).json()["data"]]
    assert len(created) == 1


def test_idempotency_key_reused_with_another_body_is_409(api: Api) -> None:
    key = str(uuid.uuid4())
    first = api.post("/organizations", json={"name": unique()}, headers={"Idempotency-Key": key})
    assert first.status_code == 201
    before = org_ids(api)
    r = api.post("/organizations", json={"name": unique()}, headers={"Idempotency-Key": key})
    body = assert_error(r, (409,))
    assert body["code"] == "idempotency_error"
    assert org_ids(api) == before


def test_idempotent_replay_of_an_error(api: Api, unchanged: None) -> None:
    key = str(uuid.uuid4())
    first = api.post("/organizations", json={"metadata": {}}, headers={"Idempotency-Key": key})
    again = api.post("/organizations", json={"metadata": {}}, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 422
    assert first.json() == again.json()


def test_distinct_keys_create_distinct_organizations(api: Api) -> None:
    payload = {"name": unique()}
    a = api.post("/organizations", json=payload, headers={"Idempotency-Key": str(uuid.uuid4())})
    b = api.post("/organizations", json=payload, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_idempotency_is_scoped_to_the_operation(api: Api) -> None:
    key = str(uuid.uuid4())
    org = api.post("/organizations", json={"name": unique()}, headers={"Idempotency-Key": key})
    assert org.status_code == 201
    # strict_errors=False: the spec's 409 here describes domain conflicts only.
    r = api.post("/organization_domains",
                 json={"domain": unique_domain(), "organization_id": org.json()["id"]},
                 headers={"Idempotency-Key": key}, strict_errors=False)
    # Either a fresh domain (keys are per operation) or a 409: never the org replayed.
    if r.status_code == 201:
        assert r.json()["object"] == "organization_domain"
    else:
        assert assert_error(r, (409,))["code"] == "idempotency_error"


# --- connection reuse after an early rejection ----------------------------------------


def _read_response(sock: socket.socket) -> Tuple[bytes, Dict[str, str], bytes]:
    """Reads one HTTP/1.1 response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    headers = {
        k.strip().lower().decode(): v.strip().decode()
        for k, v in (line.split(b":", 1) for line in lines[1:])
    }
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed mid-body")
        rest += chunk
    return lines[0], headers, rest[:length]


@pytest.mark.parametrize(
    "auth, path",
    [("", "/organizations"), ("Authorization: Bearer sk_test_wrong\r\n", "/organizations"),
     ("Authorization: Bearer sk_test_default\r\n", "/no_such_route")],
    ids=["no-key", "wrong-key", "unknown-route"],
)
def test_early_rejection_leaves_the_connection_usable(
    server: ServerProcess, auth: str, path: str
) -> None:
    """A pooled keep-alive connection must not die silently after an early 4xx.

    The server answers before reading the request body (it does not need it).
    The body is sent only after that answer arrives, as a slow client's would be,
    so this is deterministic. Then either the response said `Connection: close`,
    or the connection still serves the next request. Closing it silently makes
    SDK clients fail their next call with "Server disconnected".
    """
    body = b'{"name": "never"}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        )
        status, headers, _ = _read_response(sock)
        assert status.split()[1] in (b"401", b"404"), status
        if headers.get("connection", "").lower() == "close":
            return
        try:
            sock.sendall(body)
            sock.sendall(
                b"GET /organizations?limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Authorization: Bearer sk_test_default\r\n\r\n"
            )
            status2, _, _ = _read_response(sock)
        except (ConnectionError, OSError) as e:
            pytest.fail(
                f"after `{status.decode()}` without `Connection: close`, the server closed "
                f"the keep-alive connection instead of serving the next request: {e}"
            )
        assert status2.startswith(b"HTTP/1.1 200"), status2
