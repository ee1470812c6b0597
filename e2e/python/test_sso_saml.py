"""SAML single sign-on end to end (issue 6): a test IdP that signs real responses
(signxml) and the official Python SDK drive authorize → IdP → ACS → code →
`get_profile_and_token` → `get_profile`, with no browser: the browser's redirects
and form post are done with httpx."""

from __future__ import annotations

from typing import Any, Dict, Iterator, Tuple
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from workos import WorkOSClient
from workos.sso import CreateProtocolOptionsSAML
from workos.sso.models import CreateConnectionSAMLOptions

import harness
from harness import Api, unique, unique_domain
from saml_idp import AuthnRequest, TestIdp, encode, read_redirect

REDIRECT_URI = "http://localhost:8123/callback"


class Flow:
    """One SAML connection on a server, and the browser's steps through it."""

    def __init__(self, server: harness.ServerProcess, idp: TestIdp, connection: Dict[str, Any]) -> None:
        self.server = server
        self.idp = idp
        self.connection = connection
        self.browser = httpx.Client(base_url=server.base_url, follow_redirects=False, timeout=30.0)
        self.api = httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {harness.DEV_API_KEY}"}, timeout=30.0
        )

    @property
    def acs_url(self) -> str:
        return self.connection["saml"]["acs_url"]

    @property
    def audience(self) -> str:
        return self.connection["saml"]["sp_entity_id"]

    def authorize(self, client: WorkOSClient, state: str = "st-1") -> AuthnRequest:
        url = client.sso.get_authorization_url(redirect_uri=REDIRECT_URI, connection=self.connection["id"], state=state)
        r = self.browser.get(url)
        assert r.status_code == 302, r.text
        location = r.headers["location"]
        assert location.startswith(self.idp.sso_url + "?"), location
        return read_redirect(location)

    def post(self, saml_response: str) -> httpx.Response:
        """The browser's auto-submitted form to the ACS."""
        return self.browser.post(self.acs_url, data={"SAMLResponse": saml_response, "RelayState": "x"})

    def login_attempts(self) -> list:
        r = self.api.get(f"/connections/{self.connection['id']}/login_attempts", params={"limit": 100})
        assert r.status_code == 200, r.text
        return r.json()["data"]

    def close(self) -> None:
        self.browser.close()
        self.api.close()


def code_and_state(r: httpx.Response) -> Tuple[str, str]:
    assert r.status_code == 302, f"{r.status_code} {r.text}"
    loc = urlparse(r.headers["location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == REDIRECT_URI
    q = parse_qs(loc.query)
    assert "error" not in q, q
    return q["code"][0], q.get("state", [""])[0]


def make_flow(server: harness.ServerProcess, client: WorkOSClient, **saml: Any) -> Flow:
    idp = TestIdp()
    api = httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {harness.DEV_API_KEY}"})
    org = api.post("/organizations", json={"name": unique("sso-org"), "domains": [unique_domain()]}).json()
    body = {
        "organization_id": org["id"],
        "connection_type": "OktaSAML",
        "name": "Okta",
        "saml": {"idp_entity_id": idp.entity_id, "idp_sso_url": idp.sso_url, "idp_certificate": idp.keys.cert_pem.decode(), **saml},
    }
    r = api.post("/connections", json=body)
    api.close()
    assert r.status_code == 201, r.text
    return Flow(server, idp, r.json())


@pytest.fixture(scope="module")
def flow(server: harness.ServerProcess, client: WorkOSClient) -> Iterator[Flow]:
    f = make_flow(server, client)
    yield f
    f.close()


def test_connection_is_created_from_parts_and_active(flow: Flow, client: WorkOSClient) -> None:
    c = flow.connection
    assert c["object"] == "connection" and c["id"].startswith("conn_")
    assert c["state"] == "active"
    assert c["saml"]["acs_url"] == f"{flow.server.base_url}/sso/saml/acs/{c['external_key']}"
    assert c["saml"]["sp_metadata_url"].startswith(flow.server.base_url)
    # The SDK reads the same connection back.
    got = client.sso.get_connection(c["id"])
    assert got.id == c["id"] and got.connection_type == "OktaSAML"


def test_sp_metadata_is_served(flow: Flow) -> None:
    r = flow.browser.get(flow.connection["saml"]["sp_metadata_url"])
    assert r.status_code == 200
    assert "application/samlmetadata+xml" in r.headers["content-type"]
    assert f'entityID="{flow.audience}"' in r.text
    assert f'Location="{flow.acs_url}"' in r.text


def test_authorize_to_profile_with_the_sdk(flow: Flow, client: WorkOSClient) -> None:
    req = flow.authorize(client, state="opaque-state-123")
    assert req.acs_url == flow.acs_url
    assert req.issuer == flow.audience
    resp = flow.idp.sign_assertion(flow.idp.response_tree(req, audience=flow.audience))
    code, state = code_and_state(flow.post(encode(resp)))
    assert state == "opaque-state-123"

    token = client.sso.get_profile_and_token(code=code)
    p = token.profile
    assert p.id.startswith("prof_")
    assert p.email == "ada@example.com"
    assert p.first_name == "Ada" and p.last_name == "Lovelace"
    assert p.idp_id == "ada@example.com"
    assert p.connection_id == flow.connection["id"]
    assert p.connection_type == "OktaSAML"
    assert p.organization_id == flow.connection["organization_id"]
    assert p.groups == ["Engineering", "Admins"]
    assert p.raw_attributes["firstName"] == "Ada"

    again = client.sso.get_profile(access_token=token.access_token)
    assert again.id == p.id and again.email == p.email

    # The code is single-use.
    with pytest.raises(Exception):
        client.sso.get_profile_and_token(code=code)

    attempts = flow.login_attempts()
    assert attempts[0]["outcome"] == "succeeded"


def test_response_signed_on_the_response_only_is_accepted(flow: Flow, client: WorkOSClient) -> None:
    req = flow.authorize(client)
    resp = flow.idp.sign_response(flow.idp.response_tree(req, audience=flow.audience))
    code, _ = code_and_state(flow.post(encode(resp)))
    assert client.sso.get_profile_and_token(code=code).profile.email == "ada@example.com"


def test_same_subject_keeps_its_profile_id(flow: Flow, client: WorkOSClient) -> None:
    ids = []
    for _ in range(2):
        req = flow.authorize(client)
        resp = flow.idp.sign_assertion(flow.idp.response_tree(req, audience=flow.audience, name_id="grace@example.com"))
        code, _ = code_and_state(flow.post(encode(resp)))
        ids.append(client.sso.get_profile_and_token(code=code).profile.id)
    assert ids[0] == ids[1]


def test_token_accepts_form_bodies_and_refuses_bad_clients(flow: Flow, client: WorkOSClient) -> None:
    req = flow.authorize(client)
    code, _ = code_and_state(flow.post(encode(flow.idp.sign_assertion(flow.idp.response_tree(req, audience=flow.audience)))))
    base = {"client_id": harness.DEV_CLIENT_ID, "grant_type": "authorization_code", "code": code}
    bad = flow.browser.post("/sso/token", data={**base, "client_secret": "sk_test_wrong"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    r = flow.browser.post("/sso/token", data={**base, "client_secret": harness.DEV_API_KEY})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    reuse = flow.browser.post("/sso/token", data={**base, "client_secret": harness.DEV_API_KEY})
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    profile = flow.browser.get("/sso/profile", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert profile.status_code == 200 and profile.json()["object"] == "profile"
    assert flow.browser.get("/sso/profile", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_unregistered_redirect_uri_is_refused_without_redirect(flow: Flow, client: WorkOSClient) -> None:
    url = client.sso.get_authorization_url(redirect_uri="https://evil.example/cb", connection=flow.connection["id"])
    r = flow.browser.get(url)
    assert r.status_code == 400
    assert "location" not in r.headers
    # Registered, it is allowed.
    reg = flow.api.post("/user_management/redirect_uris", json={"uri": "https://app.example/cb"})
    assert reg.status_code == 201 and reg.json()["id"].startswith("ruri_")
    ok = flow.browser.get(client.sso.get_authorization_url(redirect_uri="https://app.example/cb", connection=flow.connection["id"]))
    assert ok.status_code == 302 and ok.headers["location"].startswith(flow.idp.sso_url)


def test_authorize_by_organization(flow: Flow, client: WorkOSClient) -> None:
    url = client.sso.get_authorization_url(redirect_uri=REDIRECT_URI, organization=flow.connection["organization_id"])
    r = flow.browser.get(url)
    assert r.status_code == 302 and r.headers["location"].startswith(flow.idp.sso_url)


def test_connection_from_metadata_list_filters_and_lifecycle(server: harness.ServerProcess, client: WorkOSClient) -> None:
    api = httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {harness.DEV_API_KEY}"})
    idp = TestIdp()
    domain = unique_domain()
    org = api.post("/organizations", json={"name": unique("meta-org"), "domains": [domain]}).json()
    # Without a certificate it cannot be active.
    draft = api.post("/connections", json={"organization_id": org["id"], "connection_type": "GenericSAML",
                                            "saml": {"idp_entity_id": idp.entity_id, "idp_sso_url": idp.sso_url}})
    assert draft.status_code == 201 and draft.json()["state"] == "draft"
    refused = api.patch(f"/connections/{draft.json()['id']}", json={"state": "active"})
    assert refused.status_code == 422 and refused.json()["code"] == "connection_not_activatable"

    c = api.post("/connections", json={"organization_id": org["id"], "connection_type": "AzureSAML",
                                        "saml": {"idp_metadata_xml": idp.metadata_xml()}})
    assert c.status_code == 201, c.text
    c = c.json()
    assert c["state"] == "active" and c["saml"]["idp_entity_id"] == idp.entity_id
    assert c["domains"][0]["domain"] == domain

    by_domain = client.sso.list_connections(domain=domain)
    assert {x.id for x in by_domain.data} == {c["id"], draft.json()["id"]}
    by_type = api.get("/connections", params={"connection_type": "AzureSAML", "organization_id": org["id"]}).json()
    assert [x["id"] for x in by_type["data"]] == [c["id"]]

    off = api.patch(f"/connections/{c['id']}", json={"state": "inactive"})
    assert off.status_code == 200 and off.json()["state"] == "inactive"
    on = api.patch(f"/connections/{c['id']}", json={"state": "active"})
    assert on.json()["state"] == "active"
    client.sso.delete_connection(c["id"])
    assert api.get(f"/connections/{c['id']}").status_code == 404

    events = api.get("/events", params={"events": "connection.activated,connection.deactivated,connection.deleted",
                                        "organization_id": org["id"], "limit": 100}).json()["data"]
    names = [e["event"] for e in events if e["data"]["id"] == c["id"]]
    assert names == ["connection.activated", "connection.deactivated", "connection.activated", "connection.deleted"]
    api.close()


def test_invalid_metadata_and_certificates_are_field_errors(server: harness.ServerProcess) -> None:
    api = httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {harness.DEV_API_KEY}"})
    org = api.post("/organizations", json={"name": unique("bad-org")}).json()
    r = api.post("/connections", json={"organization_id": org["id"], "connection_type": "GenericSAML",
                                        "saml": {"idp_metadata_xml": "<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>"}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "saml.idp_metadata_xml"
    r = api.post("/connections", json={"organization_id": org["id"], "connection_type": "GenericSAML",
                                        "saml": {"idp_certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"}})
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "invalid_certificate"
    api.close()


def test_sdk_creates_a_connection_with_saml_options(server: harness.ServerProcess, client: WorkOSClient) -> None:
    idp = TestIdp()
    org = client.organizations.create_organization(name=unique("sdk-org"))
    c = client.sso.create_connection(
        organization_id=org.id,
        connection_type="GenericSAML",
        protocol_options=CreateProtocolOptionsSAML(saml_options=CreateConnectionSAMLOptions(
            idp_entity_id=idp.entity_id, idp_sso_url=idp.sso_url, idp_signing_certs=[idp.keys.cert_pem.decode()])),
    )
    assert c.state == "active" and c.organization_id == org.id


def test_sso_and_connection_responses_match_the_official_spec(flow: Flow, client: WorkOSClient, contract) -> None:
    """The spec'd operations (list/get/delete connections, token, profile) validated
    against the official OpenAPI schemas; the extensions (POST/PATCH) are ours."""
    api = Api(flow.server.base_url, harness.DEV_API_KEY, contract)
    try:
        assert api.get("/connections", params={"organization_id": flow.connection["organization_id"]}).status_code == 200
        assert api.get(f"/connections/{flow.connection['id']}").status_code == 200
        assert api.get(f"/connections/{harness.missing_id('conn')}").status_code == 404
        req = flow.authorize(client)
        code, _ = code_and_state(flow.post(encode(flow.idp.sign_assertion(flow.idp.response_tree(req, audience=flow.audience)))))
        token = api.post("/sso/token", json={"client_id": harness.DEV_CLIENT_ID, "client_secret": harness.DEV_API_KEY,
                                             "grant_type": "authorization_code", "code": code})
        assert token.status_code == 200, token.text
        profile = api.get("/sso/profile", headers={"Authorization": f"Bearer {token.json()['access_token']}"})
        assert profile.status_code == 200 and profile.json()["id"] == token.json()["profile"]["id"]
    finally:
        api.close()


def test_logout_authorize_and_redirect(flow: Flow, client: WorkOSClient) -> None:
    req = flow.authorize(client)
    code, _ = code_and_state(flow.post(encode(flow.idp.sign_assertion(flow.idp.response_tree(req, audience=flow.audience)))))
    profile = client.sso.get_profile_and_token(code=code).profile
    out = client.sso.authorize_logout(profile_id=profile.id)
    assert out.logout_url == f"{flow.server.base_url}/sso/logout?token={out.logout_token}"
    assert client.sso.get_logout_url(token=out.logout_token).endswith(f"/sso/logout?token={out.logout_token}")
    first = flow.browser.get(out.logout_url)
    assert first.status_code in (200, 302), first.text
    again = flow.browser.get(out.logout_url)
    assert again.status_code == 400, "a logout token is single-use"
    with pytest.raises(Exception):
        client.sso.authorize_logout(profile_id=harness.missing_id("prof"))
