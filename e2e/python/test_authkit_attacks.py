"""AuthKit sign-in under hostile input: malformed and forged requests to
/user_management/authenticate (raw, contract-checked), forged access tokens in
sealed sessions (the SDK must refuse them against our JWKS), lockout, and the
JWT template's reserved claims."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any, Dict

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from workos import BadRequestError, RateLimitExceededError, UnprocessableEntityError, WorkOSClient
from workos._errors import MfaChallengeError
from workos.organization_membership import RoleSingle
from workos.session import (
    AuthenticateWithSessionCookieFailureReason,
    AuthenticateWithSessionCookieSuccessResponse,
    seal_data,
)

import harness
from authkit import (
    COOKIE_PASSWORD, PASSWORD, authenticate_body, claims, session_states, sign_in, totp,
    user_with_password,
)
from harness import Api, unique

AUTHENTICATE = "/user_management/authenticate"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: Dict[str, Any], payload: Dict[str, Any], signature: bytes = b"") -> str:
    return ".".join([b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature)])


def hs256(payload: Dict[str, Any], kid: str, key: bytes) -> str:
    """Algorithm confusion: HS256 keyed with the server's RSA public key (PEM)."""
    signing_input = ".".join([b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode()),
                              b64(json.dumps(payload).encode())])
    return signing_input + "." + b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


def sealed(access_token: str, refresh_token: str, user: Dict[str, Any]) -> str:
    return seal_data({"access_token": access_token, "refresh_token": refresh_token, "user": user},
                     COOKIE_PASSWORD)


def oauth_error(r: Any, status: int, error: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == error and body["error_description"], r.text


def workos_error(r: Any, status: int, code: str) -> Dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code and body["message"], r.text
    return body


# --- malformed requests ---------------------------------------------------------------------


def test_hostile_authenticate_requests_change_nothing(
    server: harness.ServerProcess, client: WorkOSClient, api: Api
) -> None:
    user = user_with_password(client)
    auth = sign_in(client, user)
    before = session_states(client, user.id)
    password = dict(grant_type="password", email=user.email, password=PASSWORD)

    # Bodies that are not a JSON object.
    for raw in (b"{bad", b"[]", b"\"password\"", b"\x00\xff", b""):
        r = api.post(AUTHENTICATE, content=raw, headers={"Content-Type": "application/json"})
        oauth_error(r, 400, "invalid_request")
    # grant_type missing, unknown, or of the wrong type.
    oauth_error(api.post(AUTHENTICATE, json=authenticate_body(email=user.email, password=PASSWORD)),
                400, "invalid_request")
    for grant in ("client_credentials", "PASSWORD", "urn:ietf:params:oauth:grant-type:jwt-bearer"):
        r = api.post(AUTHENTICATE, json=authenticate_body(grant_type=grant))
        oauth_error(r, 400, "unsupported_grant_type")
    r = api.post(AUTHENTICATE, json=authenticate_body(grant_type=["password"]))
    assert r.status_code in (400, 422), r.text
    # Required fields missing, or of the wrong type.
    body = workos_error(api.post(AUTHENTICATE, json=authenticate_body(grant_type="password")),
                        422, "invalid_request_parameters")
    assert sorted(e["field"] for e in body["errors"]) == ["email", "password"]
    body = workos_error(api.post(AUTHENTICATE, json=authenticate_body(
        grant_type="password", email=5, password=PASSWORD)), 422, "invalid_request_parameters")
    assert [e["field"] for e in body["errors"]] == ["email"]
    workos_error(api.post(AUTHENTICATE, json=authenticate_body(grant_type="refresh_token")),
                 422, "invalid_request_parameters")
    workos_error(api.post(AUTHENTICATE, json=authenticate_body(
        grant_type="urn:workos:oauth:grant-type:mfa-totp", code="123456")),
        422, "invalid_request_parameters")
    # Client credentials: wrong secret, unknown client, no client id.
    oauth_error(api.post(AUTHENTICATE, json={**authenticate_body(**password), "client_secret": "sk_test_wrong"}),
                401, "invalid_client")
    oauth_error(api.post(AUTHENTICATE, json={**authenticate_body(**password), "client_id": "client_nope"}),
                401, "invalid_client")
    no_client = authenticate_body(**password)
    del no_client["client_id"]
    oauth_error(api.post(AUTHENTICATE, json=no_client), 401, "invalid_client")
    # Strange emails are credentials that do not match, not errors.
    # A NUL anywhere in the body makes it unreadable (invalid_request).
    r = api.post(AUTHENTICATE, json=authenticate_body(grant_type="password", email=f"{user.email}\x00",
                                                      password=PASSWORD))
    oauth_error(r, 400, "invalid_request")
    for address in (f" {user.email}' OR '1'='1", "ä" * 300, f"{user.email},x@example.test"):
        r = api.post(AUTHENTICATE, json=authenticate_body(grant_type="password", email=address,
                                                          password=PASSWORD))
        assert r.status_code in (400, 422), r.text
        assert r.json()["code"] in ("invalid_credentials", "invalid_request_parameters"), r.text

    # Refresh tokens that were never issued.
    good = claims(server, auth.access_token)
    for token in (secrets.token_urlsafe(22), "' OR 1=1 --", "a" * 128, "\u2603" * 10,
                  auth.refresh_token[:-1] + ("A" if auth.refresh_token[-1] != "A" else "B")):
        r = api.post(AUTHENTICATE, json=authenticate_body(grant_type="refresh_token", refresh_token=token))
        oauth_error(r, 400, "invalid_grant")
    # JWTs (the access token itself, a forged one) are no refresh tokens either.
    forged = jwt.encode({**good, "jti": "x"}, secrets.token_bytes(32), algorithm="HS256")
    for token in (auth.access_token, forged, "a" * 129):
        r = api.post(AUTHENTICATE, json=authenticate_body(grant_type="refresh_token", refresh_token=token))
        oauth_error(r, 400, "invalid_grant")
    # Pending-authentication and one-time-code grants with made-up tokens.
    r = api.post(AUTHENTICATE, json=authenticate_body(
        grant_type="urn:workos:oauth:grant-type:organization-selection",
        pending_authentication_token=secrets.token_urlsafe(24), organization_id=harness.missing_id("org")))
    assert r.status_code == 400, r.text
    r = api.post(AUTHENTICATE, json=authenticate_body(
        grant_type="urn:workos:oauth:grant-type:email-verification:code", code="123456",
        pending_authentication_token=secrets.token_urlsafe(24)))
    assert r.status_code == 400, r.text
    r = api.post(AUTHENTICATE, json=authenticate_body(
        grant_type="urn:workos:oauth:grant-type:magic-auth:code", code="123456", email=user.email))
    workos_error(r, 400, "invalid_one_time_code")
    r = api.post(AUTHENTICATE, json=authenticate_body(grant_type="authorization_code",
                                                      code=secrets.token_urlsafe(24)))
    oauth_error(r, 400, "invalid_grant")

    # Nothing happened to the user: same sessions, and the real refresh token still works.
    assert session_states(client, user.id) == before
    refreshed = client.user_management.authenticate_with_refresh_token(refresh_token=auth.refresh_token)
    assert claims(server, refreshed.access_token)["sid"] == good["sid"]


def device_decision(server: harness.ServerProcess, verdict: str, body: Dict[str, Any]) -> httpx.Response:
    """The extension an application calls when its signed-in user approves or denies a device."""
    return httpx.post(f"{server.base_url}/user_management/authorize/device/{verdict}",
                      headers={"Authorization": f"Bearer {harness.DEV_API_KEY}"}, json=body)


def test_device_code_flow_with_the_sdk(server: harness.ServerProcess, client: WorkOSClient, api: Api) -> None:
    um = client.user_management
    user = user_with_password(client)
    device = um.create_device(client_id=harness.DEV_CLIENT_ID)
    assert device.verification_uri.endswith("/device") and device.expires_in > 0
    assert device.verification_uri_complete.endswith(device.user_code)
    # Polling before the user approves: pending, then too fast.
    with pytest.raises(BadRequestError) as exc:
        um.authenticate_with_device_code(device_code=device.device_code)
    assert exc.value.error == "authorization_pending"
    with pytest.raises(BadRequestError) as exc:
        um.authenticate_with_device_code(device_code=device.device_code)
    assert exc.value.error == "slow_down"
    # The application where the user is signed in approves the code they typed.
    r = device_decision(server, "approve", {"user_code": device.user_code.lower(), "user_id": user.id})
    assert r.status_code == 200 and r.json() == {"status": "approved"}, r.text
    auth = um.authenticate_with_device_code(device_code=device.device_code)
    assert auth.user.id == user.id and auth.access_token and auth.refresh_token
    with pytest.raises(BadRequestError) as exc:
        um.authenticate_with_device_code(device_code=device.device_code)
    assert exc.value.error == "invalid_grant", "a device code works once"
    # Denied, and made up.
    denied = um.create_device(client_id=harness.DEV_CLIENT_ID)
    r = device_decision(server, "deny", {"user_code": denied.user_code})
    assert r.status_code == 200, r.text
    with pytest.raises(BadRequestError) as exc:
        um.authenticate_with_device_code(device_code=denied.device_code)
    assert exc.value.error == "access_denied"
    r = api.post(AUTHENTICATE, json={"client_id": harness.DEV_CLIENT_ID, "device_code": "abc",
                                     "grant_type": "urn:ietf:params:oauth:grant-type:device_code"})
    oauth_error(r, 400, "invalid_grant")


def test_pending_tokens_and_challenges_are_bound_to_their_user(
    client: WorkOSClient, api: Api
) -> None:
    mfa = client.multi_factor_auth
    alice, mallory = user_with_password(client), user_with_password(client)
    secrets_ = {}
    for u in (alice, mallory):
        secrets_[u.id] = mfa.create_user_auth_factor(u.id, type="totp").authentication_factor
    steps = {}
    for u in (alice, mallory):
        with pytest.raises(MfaChallengeError) as exc:
            sign_in(client, u)
        steps[u.id] = exc.value.pending_authentication_token
    # Mallory answers her own challenge with Alice's pending token.
    mallory_challenge = mfa.challenge_factor(secrets_[mallory.id].id)
    r = api.post(AUTHENTICATE, json=authenticate_body(
        grant_type="urn:workos:oauth:grant-type:mfa-totp", code=totp(secrets_[mallory.id].totp.secret),
        pending_authentication_token=steps[alice.id], authentication_challenge_id=mallory_challenge.id))
    assert r.status_code == 400, r.text
    assert r.json()["code"] in ("user_mismatch", "invalid_pending_authentication_token"), r.text
    assert session_states(client, alice.id) == {} and session_states(client, mallory.id) == {}
    # A standalone factor's challenge (no user) cannot finish a sign-in either.
    loose = mfa.enroll_factor(type="totp", totp_issuer="Loose", totp_user="loose@example.test")
    loose_challenge = mfa.challenge_factor(loose.id)
    r = api.post(AUTHENTICATE, json=authenticate_body(
        grant_type="urn:workos:oauth:grant-type:mfa-totp", code=totp(loose.totp.secret),
        pending_authentication_token=steps[alice.id], authentication_challenge_id=loose_challenge.id))
    assert r.status_code == 400, r.text
    assert session_states(client, alice.id) == {}
    # Alice's own challenge still works with her token.
    challenge = mfa.challenge_factor(secrets_[alice.id].id)
    auth = client.user_management.authenticate_with_totp(
        code=totp(secrets_[alice.id].totp.secret), pending_authentication_token=steps[alice.id],
        authentication_challenge_id=challenge.id)
    assert auth.user.id == alice.id


# --- forged access tokens in sealed sessions ------------------------------------------------


def test_forged_access_tokens_are_refused_by_the_sdk(
    server: harness.ServerProcess, client: WorkOSClient
) -> None:
    user = user_with_password(client)
    auth = sign_in(client, user)
    good = claims(server, auth.access_token)
    kid = jwt.get_unverified_header(auth.access_token)["kid"]
    user_dict = auth.user.to_dict()
    um = client.user_management

    def verdict(token: str) -> Any:
        return um.authenticate_with_session_cookie(
            session_data=sealed(token, auth.refresh_token, user_dict), cookie_password=COOKIE_PASSWORD)

    real = verdict(auth.access_token)
    assert isinstance(real, AuthenticateWithSessionCookieSuccessResponse)
    assert real.session_id == good["sid"]

    now = int(time.time())
    evil = {**good, "sub": harness.missing_id("user"), "org_id": harness.missing_id("org"),
            "role": "admin", "permissions": ["*"], "iat": now, "exp": now + 300}
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_pem = other_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption())
    public_pem = jwt.PyJWKClient(um.get_jwks_url()).get_signing_key(kid).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    head, _, sig = auth.access_token.split(".")
    forgeries = {
        "alg none": unsigned({"alg": "none", "typ": "JWT", "kid": kid}, evil),
        "alg none, signature kept": unsigned({"alg": "none", "typ": "JWT", "kid": kid}, evil,
                                             base64.urlsafe_b64decode(sig + "==")),
        "another RSA key": jwt.encode(evil, other_pem, algorithm="RS256", headers={"kid": kid}),
        "HS256 keyed with the public key": hs256(evil, kid, public_pem),
        "payload swapped, signature kept": ".".join([head, b64(json.dumps(evil).encode()), sig]),
        "garbage": "not.a.jwt",
    }
    for name, token in forgeries.items():
        got = verdict(token)
        assert got.authenticated is False, name
        assert got.reason == AuthenticateWithSessionCookieFailureReason.INVALID_JWT, (name, got)

    # A cookie sealed with another password, or not sealed at all.
    other_password = seal_data({"access_token": auth.access_token, "refresh_token": auth.refresh_token,
                                "user": user_dict}, base64.urlsafe_b64encode(b"k" * 32).decode())
    for cookie in (other_password, auth.access_token, ""):
        got = um.authenticate_with_session_cookie(session_data=cookie, cookie_password=COOKIE_PASSWORD)
        assert got.authenticated is False
        assert got.reason in (AuthenticateWithSessionCookieFailureReason.INVALID_SESSION_COOKIE,
                              AuthenticateWithSessionCookieFailureReason.NO_SESSION_COOKIE_PROVIDED)

    # The JWKS holds RSA public keys only, each with the kid the tokens carry.
    jwks = um.get_jwks(harness.DEV_CLIENT_ID).to_dict()
    assert kid in [k["kid"] for k in jwks["keys"]]
    for k in jwks["keys"]:
        assert k["kty"] == "RSA" and not {"d", "p", "q", "dp", "dq", "qi"} & set(k)
    # A refresh through a forged cookie goes to the server, which refuses the forged
    # refresh token; the session stays as it was.
    before = session_states(client, user.id)
    forged_cookie = sealed(forgeries["alg none"], secrets.token_urlsafe(22), user_dict)
    refreshed = um.load_sealed_session(session_data=forged_cookie, cookie_password=COOKIE_PASSWORD).refresh()
    assert refreshed.authenticated is False
    assert session_states(client, user.id) == before


# --- lockout -------------------------------------------------------------------------------


def test_ten_wrong_passwords_lock_the_email(client: WorkOSClient, api: Api) -> None:
    victim, bystander = user_with_password(client), user_with_password(client)
    for _ in range(10):
        r = api.post(AUTHENTICATE, json=authenticate_body(grant_type="password", email=victim.email,
                                                          password="wrong password"))
        workos_error(r, 400, "invalid_credentials")
    r = api.post(AUTHENTICATE, json=authenticate_body(grant_type="password", email=victim.email,
                                                      password=PASSWORD))
    workos_error(r, 429, "rate_limit_exceeded")
    retry_after = int(r.headers["retry-after"])
    assert 0 < retry_after <= 15 * 60
    with pytest.raises(RateLimitExceededError) as exc:
        sign_in(client, victim)
    assert exc.value.retry_after is not None and 0 < exc.value.retry_after <= 15 * 60
    # Another case of the same address is the same address.
    r = api.post(AUTHENTICATE, json=authenticate_body(grant_type="password",
                                                      email=victim.email.upper(), password=PASSWORD))
    assert r.status_code == 429, r.text
    assert session_states(client, victim.id) == {}
    # The lock is on the address, whatever the method: a magic code is refused too.
    code = client.user_management.create_magic_auth(email=victim.email).code
    with pytest.raises(RateLimitExceededError):
        client.user_management.authenticate_with_magic_auth(code=code, email=victim.email)
    assert session_states(client, victim.id) == {}
    # Other addresses are unaffected.
    assert sign_in(client, bystander).user.id == bystander.id


def test_hundred_failures_from_one_ip_address_lock_it(client: WorkOSClient, api: Api) -> None:
    ip = f"198.51.100.{secrets.randbelow(250) + 1}"
    user = user_with_password(client)
    for i in range(100):
        r = api.post(AUTHENTICATE, json=authenticate_body(
            grant_type="password", email=f"{unique('nobody')}@example.test", password="wrong password",
            ip_address=ip))
        workos_error(r, 400, "invalid_credentials")
    with pytest.raises(RateLimitExceededError):
        sign_in(client, user, ip_address=ip)
    assert sign_in(client, user, ip_address="192.0.2.200").user.id == user.id
    assert sign_in(client, user).user.id == user.id


# --- JWT template --------------------------------------------------------------------------


def test_jwt_template_claims_and_reserved_claims(
    fresh_server: harness.ServerProcess, fresh_client: WorkOSClient, fresh_api: Api
) -> None:
    client, api, server = fresh_client, fresh_api, fresh_server
    um = client.user_management
    initial = um.list_jwt_template()
    assert initial.object == "jwt_template" and json.loads(initial.content) == {}
    org = client.organizations.create_organization(name=unique("Templated"))
    user = user_with_password(client, first_name="Grace", metadata={"tier": "gold"})
    client.organization_membership.create_organization_membership(user_id=user.id, organization_id=org.id)
    baseline = claims(server, sign_in(client, user).access_token)

    content = json.dumps({
        "urn:e2e:email": "{{user.email}}",
        "urn:e2e:greeting": "hello {{user.first_name}}",
        "urn:e2e:tier": "{{user.metadata.tier}}",
        "urn:e2e:org": "{{organization.name}}",
        "sub": "user_evil", "iss": "https://evil.example", "sid": "session_evil",
        "exp": 9999999999, "iat": 0, "jti": "evil", "auth_time": 0, "aud": "evil",
    })
    saved = um.update_jwt_template(content=content)
    assert json.loads(saved.content) == json.loads(content)
    assert json.loads(um.list_jwt_template().content) == json.loads(content)

    auth = sign_in(client, user)
    c = claims(server, auth.access_token)
    assert c["urn:e2e:email"] == user.email
    assert c["urn:e2e:greeting"] == "hello Grace"
    assert c["urn:e2e:tier"] == "gold" and c["urn:e2e:org"] == org.name
    assert c["sub"] == user.id and c["iss"] != "https://evil.example"
    assert c["sid"] == claims(server, auth.access_token)["sid"] != "session_evil"
    assert c["exp"] == c["iat"] + 300 and c["iat"] > 0 and c["jti"] != "evil"
    assert c["auth_time"] > 0 and "aud" not in c
    assert (c["org_id"], c["role"], c["permissions"]) == (
        baseline["org_id"], baseline["role"], baseline["permissions"])
    # Refreshed tokens carry the template too.
    again = um.authenticate_with_refresh_token(refresh_token=auth.refresh_token)
    assert claims(server, again.access_token)["urn:e2e:email"] == user.email

    for bad in ("not json", "[1, 2]", json.dumps({"x": "{{env.secret}}"}), json.dumps({"x": "{{user.email"})):
        with pytest.raises(UnprocessableEntityError):
            um.update_jwt_template(content=bad)
        r = api.put("/user_management/jwt_template", json={"content": bad})
        workos_error(r, 422, "invalid_request_parameters")
    assert json.loads(um.list_jwt_template().content) == json.loads(content), "a refused template changes nothing"


def test_jwt_template_cannot_override_authorization_claims(
    fresh_server: harness.ServerProcess, fresh_client: WorkOSClient
) -> None:
    client, server = fresh_client, fresh_server
    org = client.organizations.create_organization(name=unique("Org"))
    user = user_with_password(client)
    client.organization_membership.create_organization_membership(
        user_id=user.id, organization_id=org.id, role=RoleSingle(role_slug="member"))
    client.user_management.update_jwt_template(content=json.dumps({
        "org_id": "org_evil", "role": "admin", "roles": ["admin"], "permissions": ["*"]}))
    c = claims(server, sign_in(client, user).access_token)
    assert (c["org_id"], c["role"], c["roles"], c["permissions"]) == (org.id, "member", ["member"], [])
