"""SAML connections from `idp_metadata_url` (issue 6): the server fetches the IdP's
metadata from a real HTTP server on loopback (allowed because the test server runs
with `--dev`), fills entity id, SSO URL and certificate from it, and refuses, with a
422 on the field and nothing created, every fetch that fails: HTTP errors,
redirects, oversized or invalid documents, and targets the SSRF policy forbids.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Iterator, Tuple

import httpx
import pytest
from workos import WorkOSClient

import harness
from harness import unique
from saml_idp import TestIdp, encode
from test_sso_saml import Flow, code_and_state


class MetadataHost:
    """A real HTTP server on 127.0.0.1 (port 0) answering each path as configured."""

    def __init__(self) -> None:
        self.routes: Dict[str, Tuple[int, Dict[str, str], bytes]] = {}
        self.hits: Dict[str, int] = {}
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                host.hits[self.path] = host.hits.get(self.path, 0) + 1
                status, headers, body = host.routes.get(self.path, (404, {}, b"not here"))
                self.send_response(status)
                unannounced = headers.get("X-Unannounced-Length") == "1"
                for k, v in headers.items():
                    self.send_header(k, v)
                if not unannounced:  # else the body ends when the connection closes
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server stopped reading: what the size cap is for

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def serve(self, path: str, body: bytes, status: int = 200, **headers: str) -> str:
        self.routes[path] = (status, {"Content-Type": "application/samlmetadata+xml", **headers}, body)
        return self.url(path)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def host() -> Iterator[MetadataHost]:
    h = MetadataHost()
    yield h
    h.close()


@pytest.fixture
def api(server: harness.ServerProcess) -> Iterator[httpx.Client]:
    c = httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {harness.DEV_API_KEY}"}, timeout=30.0)
    yield c
    c.close()


def new_org(api: httpx.Client) -> str:
    return api.post("/organizations", json={"name": unique("meta-org")}).json()["id"]


def create(api: httpx.Client, org: str, url: str, key: str = "saml") -> httpx.Response:
    return api.post("/connections", json={"organization_id": org, "connection_type": "GenericSAML", key: {"idp_metadata_url": url}})


def org_connections(api: httpx.Client, org: str) -> list:
    r = api.get("/connections", params={"organization_id": org})
    assert r.status_code == 200
    return r.json()["data"]


def test_connection_from_metadata_url_is_active_and_logs_in(server: harness.ServerProcess, client: WorkOSClient,
                                                           host: MetadataHost, api: httpx.Client) -> None:
    idp = TestIdp()
    url = host.serve("/idp/metadata.xml", idp.metadata_xml().encode())
    org = new_org(api)
    r = create(api, org, url)
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["state"] == "active"
    assert c["saml"]["idp_entity_id"] == idp.entity_id
    assert c["saml"]["idp_sso_url"] == idp.sso_url
    assert c["saml"]["idp_metadata_url"] == url
    assert c["saml"]["idp_certificate_count"] == 1
    assert host.hits["/idp/metadata.xml"] == 1

    # The certificate from the metadata verifies a real login.
    flow = Flow(server, idp, c)
    try:
        req = flow.authorize(client)
        code, _ = code_and_state(flow.post(encode(idp.sign_assertion(idp.response_tree(req, audience=flow.audience)))))
        assert client.sso.get_profile_and_token(code=code).profile.email == "ada@example.com"
    finally:
        flow.close()

    # PATCH with the URL fetches again: a rotated key replaces the old one.
    rotated = TestIdp(entity_id=idp.entity_id, sso_url=idp.sso_url)
    host.serve("/idp/metadata.xml", rotated.metadata_xml().encode())
    r = api.patch(f"/connections/{c['id']}", json={"saml": {"idp_metadata_url": url}})
    assert r.status_code == 200, r.text
    assert r.json()["options"]["signing_cert"] != c["options"]["signing_cert"]
    assert host.hits["/idp/metadata.xml"] == 2


@pytest.mark.parametrize(
    "case, code",
    [
        ("http_error", "metadata_fetch_failed"),
        ("redirect", "metadata_fetch_failed"),
        ("oversized", "metadata_fetch_failed"),
        ("oversized_without_length", "metadata_fetch_failed"),
        ("not_metadata", "invalid_metadata"),
        ("doctype", "invalid_metadata"),
        ("no_sso_service", "missing_sso_url"),
        ("private_target", "metadata_url_not_allowed"),
    ],
)
def test_failed_fetch_is_a_field_error_and_creates_nothing(host: MetadataHost, api: httpx.Client, case: str, code: str) -> None:
    idp = TestIdp()
    good = host.serve("/good", idp.metadata_xml().encode())
    url = {
        "http_error": host.serve("/gone", b"gone", status=500),
        "redirect": host.serve("/moved", b"", status=302, Location=good),
        "oversized": host.serve("/big", b"<x>" + b" " * (1024 * 1024 + 1) + b"</x>"),
        "oversized_without_length": host.serve("/big-stream", b"<x>" + b" " * (1024 * 1024 + 1) + b"</x>",
                                               **{"X-Unannounced-Length": "1"}),
        "not_metadata": host.serve("/html", b"<html><body>Sign in</body></html>", **{"Content-Type": "text/html"}),
        "doctype": host.serve("/dtd", b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'),
        "no_sso_service": host.serve("/nosso", idp.metadata_xml().split("<md:SingleSignOnService")[0].encode()
                                     + b"</md:IDPSSODescriptor></md:EntityDescriptor>"),
        # Link-local (cloud metadata) is refused even in --dev, before any connection.
        "private_target": "http://169.254.169.254/latest/meta-data",
    }[case]
    org = new_org(api)
    hits_before = host.hits.get("/good", 0)
    r = create(api, org, url, key="saml_options")
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "invalid_request_parameters"
    assert body["errors"][0]["field"] == "saml_options.idp_metadata_url"
    assert body["errors"][0]["code"] == code, body
    assert org_connections(api, org) == []
    # A redirect is never followed.
    assert host.hits.get("/good", 0) == hits_before


def test_failed_refetch_on_update_changes_nothing(host: MetadataHost, api: httpx.Client) -> None:
    idp = TestIdp()
    url = host.serve("/update/metadata", idp.metadata_xml().encode())
    org = new_org(api)
    c = create(api, org, url).json()
    host.serve("/update/metadata", b"down", status=503)
    r = api.patch(f"/connections/{c['id']}", json={"name": "renamed", "saml": {"idp_metadata_url": url}})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "metadata_fetch_failed", r.text
    after = api.get(f"/connections/{c['id']}").json()
    assert after["name"] == c["name"] and after["options"] == c["options"] and after["state"] == "active"
