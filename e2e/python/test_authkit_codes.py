"""AuthKit one-time codes through the official Python SDK against a real server:
magic auth, password reset, email verification (the sign-in step, with the code
read from the email_verification.created event, and the API), email change (the
code from the dev mailbox) and TOTP MFA (the sign-in step and the standalone API)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from workos import BadRequestError, NotFoundError, WorkOSClient
from workos._errors import EmailVerificationRequiredError, MfaChallengeError

import harness
from authkit import (
    PASSWORD, authenticate_body, claims, email, raw_events, sessions, sign_in, state, totp,
    user_with_password, wrong_code,
)
from harness import Api


# --- magic auth -------------------------------------------------------------------------


def test_magic_auth_codes_are_single_use(server: harness.ServerProcess, client: WorkOSClient, api: Api) -> None:
    um = client.user_management
    address = email()
    ma = um.create_magic_auth(email=address)
    assert ma.object == "magic_auth" and ma.email == address
    assert re.fullmatch(r"\d{6}", ma.code)
    assert timedelta(minutes=9) < ma.expires_at - ma.created_at <= timedelta(minutes=10)
    user = um.get_user(ma.user_id)
    assert user.email == address and user.email_verified is False, "the user is created"
    got = um.get_magic_auth(ma.id)
    assert (got.id, got.user_id, got.email) == (ma.id, ma.user_id, address)
    with pytest.raises(NotFoundError):
        um.get_magic_auth(harness.missing_id("magic_auth"))

    wrong = "000000" if ma.code != "000000" else "111111"
    with pytest.raises(BadRequestError) as exc:
        um.authenticate_with_magic_auth(code=wrong, email=address)
    assert exc.value.code == "invalid_one_time_code"
    r = api.post("/user_management/authenticate", json=authenticate_body(
        grant_type="urn:workos:oauth:grant-type:magic-auth:code", code=wrong, email=address))
    assert r.status_code == 400 and r.json()["code"] == "invalid_one_time_code"

    auth = um.authenticate_with_magic_auth(code=ma.code, email=address)
    assert auth.user.id == ma.user_id and state(auth.authentication_method) == "MagicAuth"
    assert auth.user.email_verified is True and um.get_user(user.id).email_verified is True
    [s] = sessions(client, user.id)
    assert s.id == claims(server, auth.access_token)["sid"] and state(s.auth_method) == "magic_code"

    with pytest.raises(BadRequestError) as exc:
        um.authenticate_with_magic_auth(code=ma.code, email=address)
    assert exc.value.code == "one_time_code_previously_used"
    r = api.post("/user_management/authenticate", json=authenticate_body(
        grant_type="urn:workos:oauth:grant-type:magic-auth:code", code=ma.code, email=address))
    assert r.status_code == 400 and r.json()["code"] == "one_time_code_previously_used"
    assert len(sessions(client, user.id)) == 1

    # Another address's code does not sign this one in.
    other = um.create_magic_auth(email=email())
    with pytest.raises(BadRequestError):
        um.authenticate_with_magic_auth(code=other.code, email=address)


def test_magic_auth_code_locks_after_five_wrong_guesses(client: WorkOSClient, api: Api) -> None:
    um = client.user_management
    address = email()
    ma = um.create_magic_auth(email=address)
    wrong = "000000" if ma.code != "000000" else "111111"
    codes = []
    for _ in range(5):
        r = api.post("/user_management/authenticate", json=authenticate_body(
            grant_type="urn:workos:oauth:grant-type:magic-auth:code", code=wrong, email=address))
        assert r.status_code == 400, r.text
        codes.append(r.json()["code"])
    assert codes[:4] == ["invalid_one_time_code"] * 4
    assert codes[4] in ("invalid_one_time_code", "one_time_code_too_many_attempts")
    with pytest.raises(BadRequestError) as exc:
        um.authenticate_with_magic_auth(code=ma.code, email=address)
    assert exc.value.code == "one_time_code_too_many_attempts"
    assert sessions(client, ma.user_id) == []


# --- password reset ---------------------------------------------------------------------


def test_password_reset(client: WorkOSClient, api: Api) -> None:
    um = client.user_management
    user = user_with_password(client)
    before = sign_in(client, user)
    reset = um.reset_password(email=user.email)
    assert reset.object == "password_reset" and (reset.user_id, reset.email) == (user.id, user.email)
    assert reset.password_reset_token and reset.expires_at > reset.created_at
    assert parse_qs(urlsplit(reset.password_reset_url).query)["token"] == [reset.password_reset_token]
    got = um.get_password_reset(reset.id)
    assert (got.id, got.user_id, got.email) == (reset.id, user.id, user.email)

    new_password = "a brand new passphrase 42"
    confirmed = um.confirm_password_reset(token=reset.password_reset_token, new_password=new_password)
    assert confirmed.user.id == user.id
    # Whoever signed in with the old password is signed out.
    r = api.post("/user_management/authenticate",
                 json=authenticate_body(grant_type="refresh_token", refresh_token=before.refresh_token))
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    assert sign_in(client, user, new_password).user.id == user.id
    with pytest.raises(BadRequestError) as exc:
        sign_in(client, user, PASSWORD)
    assert exc.value.code == "invalid_credentials"

    r = api.post("/user_management/password_reset/confirm",
                 json={"token": reset.password_reset_token, "new_password": "yet another passphrase"})
    assert r.status_code == 400 and r.json()["code"] == "password_reset_error", r.text
    assert sign_in(client, user, new_password).user.id == user.id, "the reused token changed nothing"
    r = api.post("/user_management/password_reset/confirm",
                 json={"token": "not-a-token", "new_password": "yet another passphrase"})
    assert r.status_code == 400 and r.json()["code"] == "password_reset_error", r.text
    r = api.post("/user_management/password_reset", json={"email": email()})
    assert r.status_code == 404, r.text


# --- email verification -----------------------------------------------------------------


def verification_code(api: Api, verification_id: str) -> str:
    [event] = [e for e in raw_events(api, "email_verification.created")
               if e["data"]["id"] == verification_id]
    return event["data"]["code"]


def test_email_verification_step_with_the_code_from_the_event(
    server: harness.ServerProcess, client: WorkOSClient, api: Api
) -> None:
    um = client.user_management
    user = user_with_password(client, verified=False)
    with pytest.raises(EmailVerificationRequiredError) as exc:
        sign_in(client, user)
    step = exc.value
    assert step.status_code == 403 and step.code == "email_verification_required"
    assert step.email == user.email and step.pending_authentication_token
    assert step.email_verification_id
    code = verification_code(api, step.email_verification_id)
    assert re.fullmatch(r"\d{6}", code)
    ev = um.get_email_verification(step.email_verification_id)
    assert (ev.user_id, ev.email, ev.code) == (user.id, user.email, code)
    assert sessions(client, user.id) == []

    wrong = "000000" if code != "000000" else "111111"
    with pytest.raises(BadRequestError) as bad:
        um.authenticate_with_email_verification(
            code=wrong, pending_authentication_token=step.pending_authentication_token)
    assert bad.value.code == "invalid_one_time_code"
    auth = um.authenticate_with_email_verification(
        code=code, pending_authentication_token=step.pending_authentication_token)
    assert auth.user.id == user.id and auth.user.email_verified is True
    assert state(auth.authentication_method) == "Password"
    assert um.get_user(user.id).email_verified is True
    assert [s.id for s in sessions(client, user.id)] == [claims(server, auth.access_token)["sid"]]
    with pytest.raises(BadRequestError):
        um.authenticate_with_email_verification(
            code=code, pending_authentication_token=step.pending_authentication_token)
    # Verified now: the password alone signs in.
    assert sign_in(client, user).user.id == user.id


def test_send_and_confirm_email_verification(client: WorkOSClient, api: Api) -> None:
    um = client.user_management
    user = user_with_password(client, verified=False)
    sent = api.post(f"/user_management/users/{user.id}/email_verification/send", json={})
    assert sent.status_code == 200, sent.text
    assert sent.json()["user"]["id"] == user.id
    [latest] = [e for e in raw_events(api, "email_verification.created")
                if e["data"]["user_id"] == user.id]
    code = latest["data"]["code"]
    wrong = "000000" if code != "000000" else "111111"
    r = api.post(f"/user_management/users/{user.id}/email_verification/confirm", json={"code": wrong})
    assert r.status_code == 400 and r.json()["code"] == "email_verification_code_incorrect", r.text
    verified = um.verify_email(user.id, code=code)
    assert verified.user.id == user.id and verified.user.email_verified is True
    assert um.get_user(user.id).email_verified is True
    r = api.post(f"/user_management/users/{user.id}/email_verification/confirm", json={"code": code})
    assert r.status_code == 400, r.text
    assert r.json()["code"] in ("email_previously_verified", "email_verification_code_previously_used")


def test_email_change_with_the_mailed_code(client: WorkOSClient, api: Api) -> None:
    um = client.user_management
    user = user_with_password(client)
    new_address = email()
    change = um.send_email_change(user.id, new_email=new_address)
    assert change.new_email == new_address and change.user.id == user.id
    assert um.get_user(user.id).email == user.email, "nothing changes before the code"
    mails = api.http.get("/_dev/emails", params={"to": new_address})
    assert mails.status_code == 200, mails.text
    [mail] = mails.json()["data"]
    code = re.search(r"\b(\d{6})\b", mail["body"]).group(1)  # type: ignore[union-attr]
    confirmed = um.confirm_email_change(user.id, code=code)
    assert confirmed.user.id == user.id and confirmed.user.email == new_address
    assert um.get_user(user.id).email == new_address
    assert client.user_management.authenticate_with_password(
        email=new_address, password=PASSWORD).user.id == user.id
    r = api.post(f"/user_management/users/{user.id}/email_change/confirm", json={"code": code})
    assert r.status_code == 409 and r.json()["code"] == "email_change_code_previously_used", r.text


# --- TOTP MFA ---------------------------------------------------------------------------


def test_totp_step_during_sign_in(server: harness.ServerProcess, client: WorkOSClient, api: Api) -> None:
    um, mfa = client.user_management, client.multi_factor_auth
    user = user_with_password(client)
    enrolled = mfa.create_user_auth_factor(user.id, type="totp", totp_issuer="Vestibule E2E",
                                           totp_user=user.email)
    factor = enrolled.authentication_factor
    assert state(factor.type) == "totp" and factor.user_id == user.id
    secret = factor.totp.secret
    assert factor.totp.uri.startswith("otpauth://totp/") and f"secret={secret}" in factor.totp.uri
    assert enrolled.authentication_challenge.authentication_factor_id == factor.id
    listed = list(mfa.list_user_auth_factors(user.id).auto_paging_iter())
    assert [f.id for f in listed] == [factor.id]
    assert "secret" not in listed[0].to_dict().get("totp", {})

    with pytest.raises(MfaChallengeError) as exc:
        sign_in(client, user)
    step = exc.value
    assert step.code == "mfa_challenge" and step.pending_authentication_token
    assert step.user is not None and step.user["id"] == user.id
    assert [(f["id"], f["type"]) for f in step.authentication_factors or []] == [(factor.id, "totp")]
    assert sessions(client, user.id) == []

    challenge = mfa.challenge_factor(factor.id)
    assert challenge.authentication_factor_id == factor.id
    with pytest.raises(BadRequestError) as bad:
        um.authenticate_with_totp(code=wrong_code(secret),
                                  pending_authentication_token=step.pending_authentication_token,
                                  authentication_challenge_id=challenge.id)
    assert bad.value.code == "invalid_one_time_code"
    r = api.post("/user_management/authenticate", json=authenticate_body(
        grant_type="urn:workos:oauth:grant-type:mfa-totp", code=wrong_code(secret),
        pending_authentication_token=step.pending_authentication_token,
        authentication_challenge_id=challenge.id))
    assert r.status_code == 400 and r.json()["code"] == "invalid_one_time_code", r.text
    assert sessions(client, user.id) == []

    # The pending token survived the wrong codes.
    auth = um.authenticate_with_totp(code=totp(secret),
                                     pending_authentication_token=step.pending_authentication_token,
                                     authentication_challenge_id=challenge.id)
    assert auth.user.id == user.id
    assert [s.id for s in sessions(client, user.id)] == [claims(server, auth.access_token)["sid"]]


def test_standalone_mfa_enroll_challenge_verify(client: WorkOSClient, api: Api) -> None:
    mfa = client.multi_factor_auth
    factor = mfa.enroll_factor(type="totp", totp_issuer="Acme", totp_user="ops@example.test")
    assert factor.object == "authentication_factor" and state(factor.type) == "totp"
    assert factor.user_id is None
    secret = factor.totp.secret
    assert re.fullmatch(r"[A-Z2-7]{16,}", secret)
    assert factor.totp.uri.startswith("otpauth://totp/Acme:")
    assert factor.totp.qr_code.startswith("data:image/")
    got = mfa.get_factor(factor.id)
    assert got.id == factor.id and "secret" not in (got.to_dict().get("totp") or {})

    challenge = mfa.challenge_factor(factor.id)
    assert challenge.authentication_factor_id == factor.id and challenge.expires_at > challenge.created_at
    wrong = mfa.verify_challenge(challenge.id, code=wrong_code(secret))
    assert wrong.valid is False and wrong.challenge.id == challenge.id
    code = totp(secret)
    right = mfa.verify_challenge(challenge.id, code=code)
    assert right.valid is True and right.challenge.id == challenge.id

    # A verified challenge is spent.
    r = api.post(f"/auth/challenges/{challenge.id}/verify", json={"code": code})
    workos = r.json()
    assert r.status_code == 422 and workos["code"] == "authentication_challenge_previously_verified", r.text
    # The same code (time step) again, on a fresh challenge: not accepted.
    replay = mfa.challenge_factor(factor.id)
    r = api.post(f"/auth/challenges/{replay.id}/verify", json={"code": code})
    assert r.status_code == 201 and r.json()["valid"] is False, r.text
    # The next step's code is (within the one step of skew).
    assert mfa.verify_challenge(replay.id, code=totp(secret, step_offset=1)).valid is True

    mfa.delete_factor(factor.id)
    with pytest.raises(NotFoundError):
        mfa.get_factor(factor.id)
    r = api.post(f"/auth/factors/{factor.id}/challenge", json={})
    assert r.status_code == 404, r.text
