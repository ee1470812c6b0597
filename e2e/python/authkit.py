"""Helpers shared by the AuthKit sign-in tests: RFC 6238 codes, token claims, users."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time
from typing import Any, Dict, List, Optional

import jwt
from cryptography.fernet import Fernet
from workos import WorkOSClient
from workos.session import seal_session_from_auth_response
from workos.user_management import PasswordPlaintext

import harness
from harness import Api, unique

PASSWORD = "correct horse battery staple"
# A Fernet key, as the SDK's sealed sessions want.
COOKIE_PASSWORD = Fernet.generate_key().decode()


def email() -> str:
    return f"{unique('authkit')}@example.test"


def totp(secret: str, at: Optional[float] = None, step_offset: int = 0) -> str:
    """RFC 6238: HMAC-SHA1, 6 digits, 30-second steps (what the server implements)."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = int((time.time() if at is None else at) // 30) + step_offset
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def wrong_code(secret: str) -> str:
    """A 6-digit code no step within the skew window accepts."""
    near = {totp(secret, step_offset=k) for k in range(-2, 3)}
    return next(c for c in (f"{n:06d}" for n in range(1000, 10**6, 7919)) if c not in near)


def issuer(server: harness.ServerProcess) -> str:
    return f"{server.base_url}/user_management/{harness.DEV_CLIENT_ID}"


def claims(server: harness.ServerProcess, token: str) -> Dict[str, Any]:
    """The access token's claims, verified against the server's JWKS and issuer."""
    jwks = jwt.PyJWKClient(f"{server.base_url}/sso/jwks/{harness.DEV_CLIENT_ID}")
    key = jwks.get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], issuer=issuer(server),
                      options={"verify_aud": False, "require": ["exp", "iat", "sub", "sid"]})


def user_with_password(client: WorkOSClient, *, verified: bool = True, **kw: Any) -> Any:
    return client.user_management.create_user(
        email=email(), password=PasswordPlaintext(password=PASSWORD),
        email_verified=verified, **kw)


def sign_in(client: WorkOSClient, user: Any, password: str = PASSWORD, **kw: Any) -> Any:
    return client.user_management.authenticate_with_password(
        email=user.email, password=password, **kw)


def authenticate_body(**fields: Any) -> Dict[str, Any]:
    """An /user_management/authenticate body with the dev client's credentials."""
    return {"client_id": harness.DEV_CLIENT_ID, "client_secret": harness.DEV_API_KEY, **fields}


def sessions(client: WorkOSClient, user_id: str) -> List[Any]:
    return list(client.user_management.list_sessions(user_id, limit=100).auto_paging_iter())


def session_states(client: WorkOSClient, user_id: str) -> Dict[str, str]:
    """{session id: status} of every session of the user."""
    return {s.id: str(getattr(s.status, "value", s.status)) for s in sessions(client, user_id)}


def raw_events(api: Api, name: str) -> List[Dict[str, Any]]:
    """Events of one type, raw: the SDK's event models drop fields such as a code."""
    out: List[Dict[str, Any]] = []
    after: Optional[str] = None
    while True:
        params: Dict[str, Any] = {"events": name, "limit": 100}
        if after:
            params["after"] = after
        r = api.get("/events", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        out += page["data"]
        after = page["list_metadata"].get("after")
        if not after or not page["data"]:
            return out


def state(value: Any) -> str:
    return str(getattr(value, "value", value))


def seal(auth: Any) -> str:
    return seal_session_from_auth_response(
        access_token=auth.access_token, refresh_token=auth.refresh_token,
        user=auth.user.to_dict(), cookie_password=COOKIE_PASSWORD)


def refresh_refused(api: Api, refresh_token: str) -> dict:
    """The refresh grant, raw and contract-checked, for a token that must be refused."""
    r = api.post("/user_management/authenticate", json=authenticate_body(
        grant_type="refresh_token", refresh_token=refresh_token))
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_grant", r.text
    return r.json()
