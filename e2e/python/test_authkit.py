"""AuthKit sign-in through the official Python SDK against a real server: password,
sealed sessions verified against our JWKS, refresh (into organizations too),
sessions, logout and the small AuthKit resources. One-time codes (magic auth,
password reset, email verification and change, TOTP) are in test_authkit_codes.py;
hostile input, lockout and the JWT template in test_authkit_attacks.py."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from workos import BadRequestError, NotFoundError, WorkOSClient
from workos._errors import OrganizationSelectionRequiredError
from workos.common.models.session_created import SessionCreated
from workos.common.models.session_revoked import SessionRevoked
from workos.organization_membership import RoleSingle
from workos.session import (
    AuthenticateWithSessionCookieFailureReason,
    AuthenticateWithSessionCookieSuccessResponse,
    RefreshWithSessionCookieErrorResponse,
    RefreshWithSessionCookieSuccessResponse,
    unseal_data,
)

import harness
from authkit import (
    COOKIE_PASSWORD, PASSWORD, authenticate_body, claims, issuer, refresh_refused, seal,
    session_states, sessions, sign_in, state, user_with_password,
)
from harness import Api, unique

SESSION_ID = re.compile(r"^session_[0-9A-HJKMNP-TV-Z]{26}$")


# --- password, sealed session, refresh --------------------------------------------------


def test_password_sign_in_sealed_session_and_refresh(
    server: harness.ServerProcess, client: WorkOSClient, api: Api
) -> None:
    user = user_with_password(client, first_name="Ada")
    before = int(time.time())
    auth = sign_in(client, user, ip_address="203.0.113.7", user_agent="e2e-agent/1.0")
    assert auth.user.id == user.id and auth.user.email == user.email
    assert auth.user.last_sign_in_at is not None
    assert state(auth.authentication_method) == "Password"
    assert auth.organization_id is None
    assert auth.refresh_token and auth.refresh_token != auth.access_token

    header = jwt.get_unverified_header(auth.access_token)
    assert header["alg"] == "RS256" and header["kid"]
    jwks = client.user_management.get_jwks(harness.DEV_CLIENT_ID)
    assert header["kid"] in [k.kid for k in jwks.keys]
    c = claims(server, auth.access_token)
    assert c["iss"] == issuer(server)
    assert c["sub"] == user.id and SESSION_ID.match(c["sid"])
    assert c["exp"] == c["iat"] + 300
    assert before - 5 <= c["iat"] <= int(time.time()) + 5
    assert c["auth_time"] <= c["iat"] and c["jti"]
    assert not {"org_id", "role", "roles", "permissions"} & set(c)

    listed = sessions(client, user.id)
    assert [s.id for s in listed] == [c["sid"]]
    s = listed[0]
    assert (s.user_id, state(s.auth_method), state(s.status)) == (user.id, "password", "active")
    assert (s.ip_address, s.user_agent) == ("203.0.113.7", "e2e-agent/1.0")
    assert s.organization_id is None and s.ended_at is None
    assert s.expires_at > datetime.now(timezone.utc) + timedelta(days=1)

    # The SDK verifies the sealed session's token against our JWKS, with our issuer.
    strict = WorkOSClient(api_key=harness.DEV_API_KEY, client_id=harness.DEV_CLIENT_ID,
                          base_url=server.base_url, max_retries=0, jwt_issuer=issuer(server))
    try:
        sealed = seal(auth)
        session = strict.user_management.load_sealed_session(
            session_data=sealed, cookie_password=COOKIE_PASSWORD)
        got = session.authenticate()
        assert isinstance(got, AuthenticateWithSessionCookieSuccessResponse), got
        assert got.authenticated and got.session_id == c["sid"]
        assert got.user is not None and got.user["id"] == user.id
        assert got.organization_id is None and got.permissions is None

        refreshed = session.refresh()
        assert isinstance(refreshed, RefreshWithSessionCookieSuccessResponse), refreshed
        assert refreshed.session_id == c["sid"] and refreshed.user["id"] == user.id
        assert refreshed.sealed_session != sealed
        inner = unseal_data(refreshed.sealed_session, COOKIE_PASSWORD)
        assert inner["refresh_token"] != auth.refresh_token
        c2 = claims(server, inner["access_token"])
        assert c2["sid"] == c["sid"] and c2["sub"] == user.id and c2["jti"] != c["jti"]
        assert c2["auth_time"] == c["auth_time"], "a refresh keeps the sign-in time"
        again = strict.user_management.load_sealed_session(
            session_data=refreshed.sealed_session, cookie_password=COOKIE_PASSWORD)
        assert again.authenticate().authenticated is True

        wrong_issuer = WorkOSClient(api_key=harness.DEV_API_KEY, client_id=harness.DEV_CLIENT_ID,
                                    base_url=server.base_url, max_retries=0,
                                    jwt_issuer="https://api.workos.com/user_management/x")
        try:
            bad = wrong_issuer.user_management.authenticate_with_session_cookie(
                session_data=refreshed.sealed_session, cookie_password=COOKIE_PASSWORD)
            assert bad.authenticated is False
            assert bad.reason == AuthenticateWithSessionCookieFailureReason.INVALID_JWT
        finally:
            wrong_issuer.close()
    finally:
        strict.close()

    # The first refresh token was spent: refused, by the SDK and raw.
    with pytest.raises(BadRequestError) as exc:
        client.user_management.authenticate_with_refresh_token(refresh_token=auth.refresh_token)
    assert exc.value.error == "invalid_grant" and exc.value.error_description
    refresh_refused(api, auth.refresh_token)
    stale = client.user_management.load_sealed_session(
        session_data=sealed, cookie_password=COOKIE_PASSWORD).refresh()
    assert isinstance(stale, RefreshWithSessionCookieErrorResponse) and not stale.authenticated
    assert [s.id for s in sessions(client, user.id)] == [c["sid"]], "refresh makes no session"

    # Raw, the successful sign-in validates against the v0.61 document.
    r = api.post("/user_management/authenticate", json=authenticate_body(
        grant_type="password", email=user.email, password=PASSWORD))
    assert r.status_code == 200, r.text
    assert r.json()["authentication_method"] == "Password" and "organization_id" not in r.json()


def test_form_encoded_sign_in(client: WorkOSClient, api: Api) -> None:
    user = user_with_password(client)
    r = api.post("/user_management/authenticate", data=authenticate_body(
        grant_type="password", email=user.email, password=PASSWORD))
    assert r.status_code == 200, r.text
    assert r.json()["user"]["id"] == user.id


# --- organizations ----------------------------------------------------------------------


def test_organization_selection_and_refresh_into_another_organization(
    server: harness.ServerProcess, client: WorkOSClient, api: Api
) -> None:
    az, oms = client.authorization, client.organization_membership
    org_a = client.organizations.create_organization(name=unique("Org A"))
    org_b = client.organizations.create_organization(name=unique("Org B"))
    outsider = client.organizations.create_organization(name=unique("Org C"))
    perm = az.create_permission(slug=f"{unique('reports')}:read", name="Read reports").slug
    role = az.create_environment_role(slug=unique("analyst"), name="Analyst").slug
    az.set_environment_role_permissions(role, permissions=[perm])
    user = user_with_password(client)
    oms.create_organization_membership(user_id=user.id, organization_id=org_a.id)
    oms.create_organization_membership(user_id=user.id, organization_id=org_b.id,
                                       role=RoleSingle(role_slug=role))

    with pytest.raises(OrganizationSelectionRequiredError) as exc:
        sign_in(client, user)
    step = exc.value
    assert step.status_code == 403 and step.code == "organization_selection_required"
    assert step.pending_authentication_token
    assert step.user is not None and step.user["id"] == user.id
    assert sorted((o["id"], o["name"]) for o in step.organizations or []) == sorted(
        [(org_a.id, org_a.name), (org_b.id, org_b.name)])
    assert sessions(client, user.id) == [], "no session before an organization is chosen"

    # Raw, the step is contract-checked too (a second pending token).
    r = api.post("/user_management/authenticate", json=authenticate_body(
        grant_type="password", email=user.email, password=PASSWORD))
    assert r.status_code == 403 and r.json()["code"] == "organization_selection_required"

    # An organization the user is not in cannot be chosen.
    with pytest.raises(BadRequestError) as refused:
        client.user_management.authenticate_with_organization_selection(
            pending_authentication_token=step.pending_authentication_token,
            organization_id=outsider.id)
    assert refused.value.code == "invalid_organization_id"
    auth = client.user_management.authenticate_with_organization_selection(
        pending_authentication_token=step.pending_authentication_token, organization_id=org_a.id)
    assert auth.user.id == user.id and auth.organization_id == org_a.id
    c = claims(server, auth.access_token)
    assert (c["org_id"], c["role"], c["roles"], c["permissions"]) == (org_a.id, "member", ["member"], [])
    [s] = sessions(client, user.id)
    assert s.id == c["sid"] and s.organization_id == org_a.id
    with pytest.raises(BadRequestError):
        client.user_management.authenticate_with_organization_selection(
            pending_authentication_token=step.pending_authentication_token,
            organization_id=org_a.id)
    assert len(sessions(client, user.id)) == 1, "a pending token is single use"

    moved = client.user_management.authenticate_with_refresh_token(
        refresh_token=auth.refresh_token, organization_id=org_b.id)
    assert moved.organization_id == org_b.id
    c2 = claims(server, moved.access_token)
    assert c2["sid"] == c["sid"]
    assert (c2["org_id"], c2["role"], c2["roles"], c2["permissions"]) == (org_b.id, role, [role], [perm])

    # A non-member organization is refused, and the refresh token still works after.
    r = api.post("/user_management/authenticate", json=authenticate_body(
        grant_type="refresh_token", refresh_token=moved.refresh_token, organization_id=outsider.id))
    assert r.status_code == 400 and r.json()["code"] == "invalid_organization_id", r.text
    assert len(sessions(client, user.id)) == 1

    # Back to org A through the SDK's sealed session.
    back = client.user_management.load_sealed_session(
        session_data=seal(moved), cookie_password=COOKIE_PASSWORD).refresh(organization_id=org_a.id)
    assert isinstance(back, RefreshWithSessionCookieSuccessResponse), back
    assert (back.organization_id, back.role, back.roles, back.permissions) == (
        org_a.id, "member", ["member"], [])


def test_single_membership_signs_into_that_organization(
    server: harness.ServerProcess, client: WorkOSClient
) -> None:
    org = client.organizations.create_organization(name=unique("Solo"))
    user = user_with_password(client)
    client.organization_membership.create_organization_membership(
        user_id=user.id, organization_id=org.id)
    auth = sign_in(client, user)
    assert auth.organization_id == org.id
    assert claims(server, auth.access_token)["org_id"] == org.id


# --- sessions ---------------------------------------------------------------------------


def test_list_and_revoke_sessions(server: harness.ServerProcess, client: WorkOSClient, api: Api) -> None:
    user = user_with_password(client)
    first = sign_in(client, user)
    second = sign_in(client, user)
    sid1, sid2 = claims(server, first.access_token)["sid"], claims(server, second.access_token)["sid"]
    assert sid1 != sid2
    assert session_states(client, user.id) == {sid1: "active", sid2: "active"}
    assert [s.id for s in sessions(client, user.id)] == [sid2, sid1], "newest first"
    r = api.get(f"/user_management/users/{user.id}/sessions", params={"limit": 1})
    assert r.status_code == 200 and [s["id"] for s in r.json()["data"]] == [sid2]
    assert "organization_id" not in r.json()["data"][0]

    client.user_management.revoke_session(session_id=sid1)
    assert session_states(client, user.id) == {sid1: "revoked", sid2: "active"}
    revoked = next(s for s in sessions(client, user.id) if s.id == sid1)
    assert revoked.ended_at is not None and revoked.updated_at >= revoked.created_at
    refresh_refused(api, first.refresh_token)
    denied = client.user_management.load_sealed_session(
        session_data=seal(first), cookie_password=COOKIE_PASSWORD).refresh()
    assert isinstance(denied, RefreshWithSessionCookieErrorResponse)
    # The other session is untouched.
    assert client.user_management.authenticate_with_refresh_token(
        refresh_token=second.refresh_token).user.id == user.id

    r = api.post("/user_management/sessions/revoke", json={"session_id": sid1})
    assert r.status_code == 200, r.text  # again: still revoked, no error
    assert session_states(client, user.id)[sid1] == "revoked"
    with pytest.raises(NotFoundError):
        client.user_management.revoke_session(session_id=harness.missing_id("session"))
    r = api.post("/user_management/sessions/revoke", json={})
    assert r.status_code == 422, r.text
    with pytest.raises(NotFoundError):
        client.user_management.list_sessions(harness.missing_id("user"))

    created = [e for e in client.events.list_events(events=["session.created"], limit=100)
               .auto_paging_iter() if e.data.id in (sid1, sid2)]
    assert all(isinstance(e, SessionCreated) for e in created)
    assert sorted(e.data.id for e in created) == sorted([sid1, sid2])
    assert all(e.data.user_id == user.id for e in created)
    ended = [e for e in client.events.list_events(events=["session.revoked"], limit=100)
             .auto_paging_iter() if e.data.id in (sid1, sid2)]
    assert len(ended) == 1 and isinstance(ended[0], SessionRevoked)
    assert ended[0].data.id == sid1 and state(ended[0].data.status) == "revoked"


# --- logout -----------------------------------------------------------------------------


def signed_in_to_an_app(server: harness.ServerProcess, client: WorkOSClient):
    """A registered app origin, and a user signed in: (origin, user, auth, session id)."""
    origin = f"https://{unique('app')}.example"
    client.user_management.create_redirect_uri(uri=f"{origin}/callback")
    user = user_with_password(client)
    auth = sign_in(client, user)
    return origin, user, auth, claims(server, auth.access_token)["sid"]


def test_logout_redirects_to_a_registered_origin(
    server: harness.ServerProcess, client: WorkOSClient, api: Api
) -> None:
    um = client.user_management
    origin, user, auth, sid = signed_in_to_an_app(server, client)
    session = um.load_sealed_session(session_data=seal(auth), cookie_password=COOKIE_PASSWORD)
    url = session.get_logout_url(return_to=f"{origin}/bye?x=1")
    assert url.startswith(f"{server.base_url}/user_management/sessions/logout?")
    assert parse_qs(urlsplit(url).query)["session_id"] == [sid]
    r = api.get(url, follow_redirects=False)
    assert r.status_code == 302, r.text
    assert r.headers["location"] == f"{origin}/bye?x=1"
    assert session_states(client, user.id) == {sid: "revoked"}
    refresh_refused(api, auth.refresh_token)

    other = sign_in(client, user)
    sid2 = claims(server, other.access_token)["sid"]
    # Without return_to: the default redirect URI's origin.
    [default] = [u.uri for u in um.list_redirect_uris(limit=100).auto_paging_iter() if u.default]
    r = api.get(um.get_logout_url(session_id=sid2), follow_redirects=False)
    assert r.status_code == 302, r.text
    assert urlsplit(r.headers["location"])[:2] == urlsplit(default)[:2]
    assert session_states(client, user.id)[sid2] == "revoked"


def test_refused_logout_keeps_the_session(
    server: harness.ServerProcess, client: WorkOSClient, api: Api
) -> None:
    um = client.user_management
    origin, user, auth, sid = signed_in_to_an_app(server, client)
    for hostile in ("https://evil.example/bye", f"{origin}.evil.example/", "//evil.example/",
                    "javascript:alert(1)", origin.replace("https://", "http://") + "/"):
        r = api.get(um.get_logout_url(session_id=sid, return_to=hostile), follow_redirects=False)
        assert r.status_code == 422, (hostile, r.status_code, r.text)
        assert r.json()["code"] == "invalid_return_to" and "location" not in r.headers
        assert session_states(client, user.id)[sid] == "active", f"{hostile}: a refused logout ends nothing"
    assert client.user_management.authenticate_with_refresh_token(
        refresh_token=auth.refresh_token).user.id == user.id


def test_logout_without_redirect_uris(fresh_server: harness.ServerProcess, fresh_client: WorkOSClient,
                                      fresh_api: Api) -> None:
    user = user_with_password(fresh_client)
    auth = sign_in(fresh_client, user)
    sid = claims(fresh_server, auth.access_token)["sid"]
    r = fresh_api.get(fresh_client.user_management.get_logout_url(session_id=sid),
                      follow_redirects=False)
    assert r.status_code == 200 and r.json() == {}, r.text
    assert session_states(fresh_client, user.id) == {sid: "revoked"}


# --- small AuthKit resources ------------------------------------------------------------


def test_cors_origins_and_identities(client: WorkOSClient, api: Api) -> None:
    um = client.user_management
    origin = f"https://{unique('spa')}.example"
    created = um.create_cors_origin(origin=origin)
    assert created.object == "cors_origin" and created.origin == origin
    assert origin in [o.origin for o in um.list_cors_origins(limit=100).auto_paging_iter()]
    r = api.post("/user_management/cors_origins", json={"origin": origin})
    assert r.status_code == 409, r.text
    r = api.post("/user_management/cors_origins", json={"origin": "not a url"})
    assert r.status_code == 422, r.text
    r = api.get("/user_management/cors_origins")
    assert r.status_code == 200, r.text

    user = user_with_password(client)
    assert um.get_user_identities(user.id) == []
    r = api.get(f"/user_management/users/{user.id}/identities")
    assert r.status_code == 200 and r.json() == []
