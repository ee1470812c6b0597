"""`GET /sso/jwks/{client_id}` (issue 6): each environment's signing key, published as
the JWKS the SDKs build the URL of, and the SSO access tokens signed with it. The
tokens are verified here the way applications do it: PyJWT's `PyJWKClient` fetching
the JWKS over HTTP, without credentials.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import jwt
import pytest
from workos import WorkOSClient

import harness
from harness import Api
from saml_idp import encode
from test_sso_saml import code_and_state, make_flow


def test_sdk_jwks_url_is_public_and_matches_the_sdk_model(server: harness.ServerProcess, client: WorkOSClient, contract) -> None:
    url = client.user_management.get_jwks_url()
    assert url == f"{server.base_url}/sso/jwks/{harness.DEV_CLIENT_ID}"
    # No credentials: PyJWKClient and jose fetch it bare.
    r = httpx.get(url)
    assert r.status_code == 200, r.text
    keys = r.json()["keys"]
    assert len(keys) == 1
    k = keys[0]
    assert (k["alg"], k["kty"], k["use"], k["e"]) == ("RS256", "RSA", "sig", "AQAB")
    assert k["kid"].startswith("key_")
    # x5c is a certificate for the same key; x5t#S256 is its thumbprint.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    der = base64.b64decode(k["x5c"][0])
    cert = x509.load_der_x509_certificate(der)
    n = int.from_bytes(base64.urlsafe_b64decode(k["n"] + "=" * (-len(k["n"]) % 4)), "big")
    assert cert.public_key().public_numbers().n == n
    assert base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA256())).rstrip(b"=").decode() == k["x5t#S256"]
    # The same key on every fetch, and the SDK's own JWKS call reads it.
    assert httpx.get(url).json() == r.json()
    sdk_jwks = client.user_management.get_jwks(harness.DEV_CLIENT_ID)
    assert sdk_jwks.keys[0].kid == k["kid"]
    # And the official schema agrees.
    api = Api(server.base_url, None, contract)
    try:
        assert api.get(f"/sso/jwks/{harness.DEV_CLIENT_ID}").status_code == 200
    finally:
        api.close()


def test_unknown_client_id_is_a_workos_404(server: harness.ServerProcess) -> None:
    r = httpx.get(f"{server.base_url}/sso/jwks/client_01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert r.status_code == 404
    body = r.json()
    assert body["code"] == "entity_not_found" and "client_01HZZZZZZZZZZZZZZZZZZZZZZZ" in body["message"]
    r = httpx.get(f"{server.base_url}/sso/jwks/{'x' * 300}")
    assert r.status_code == 404 and r.json()["code"] == "entity_not_found"


def test_sso_access_token_verifies_against_the_served_jwks(server: harness.ServerProcess, client: WorkOSClient) -> None:
    flow = make_flow(server, client)
    try:
        req = flow.authorize(client)
        code, _ = code_and_state(flow.post(encode(flow.idp.sign_assertion(flow.idp.response_tree(req, audience=flow.audience)))))
        token = client.sso.get_profile_and_token(code=code)
        access = token.access_token
        jwks = jwt.PyJWKClient(client.user_management.get_jwks_url())
        key = jwks.get_signing_key_from_jwt(access)
        claims = jwt.decode(
            access, key.key, algorithms=["RS256"], audience=harness.DEV_CLIENT_ID,
            issuer=f"{server.base_url}/user_management/{harness.DEV_CLIENT_ID}",
            options={"require": ["exp", "iat", "sub", "jti"]},
        )
        assert claims["sub"] == token.profile.id
        assert claims["org_id"] == flow.connection["organization_id"]
        assert claims["exp"] - claims["iat"] == 600
        # The token still answers /sso/profile.
        assert client.sso.get_profile(access_token=access).id == token.profile.id

        # A token whose claims were changed does not verify, and is no access token here.
        head, body, sig = access.split(".")
        forged_claims = dict(claims, sub="prof_01FORGED")
        forged_body = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
        forged = f"{head}.{forged_body}.{sig}"
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(forged, key.key, algorithms=["RS256"], audience=harness.DEV_CLIENT_ID)
        r = httpx.get(f"{server.base_url}/sso/profile", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401
    finally:
        flow.close()


def test_signing_key_survives_a_restart(tmp_path: Path) -> None:
    db = harness.sqlite_url(tmp_path / "jwks.db")
    first = harness.start_server("--dev", "--database", db)
    try:
        before = httpx.get(f"{first.base_url}/sso/jwks/{harness.DEV_CLIENT_ID}").json()
    finally:
        first.stop()
    second = harness.start_server("--dev", "--database", db)
    try:
        after = httpx.get(f"{second.base_url}/sso/jwks/{harness.DEV_CLIENT_ID}").json()
    finally:
        second.stop()
    assert after == before
