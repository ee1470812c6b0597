"""The SAML attack corpus (issue 6). Each case posts one hostile response to the ACS
of a real server, for a real pending AuthnRequest, and proves three things: the
server refuses it (no `code` reaches the application), it records why in the
connection's login attempts, and it goes on serving (a legitimate login right
after succeeds). Case ids name what each one proves.

XSW1–8 follow SAMLRaider's signature-wrapping permutations; the shapes are built
from a genuinely signed response, so only the wrapping makes them fail.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import functools
import uuid
from typing import Callable, Dict, Iterator, Optional
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from lxml import etree
from workos import WorkOSClient

import harness
from saml_idp import DS, NS, SAML, SAMLP, AuthnRequest, KeyPair, TestIdp, encode
from test_sso_saml import Flow, code_and_state, make_flow

EVIL = "admin@evil.test"
NOW = lambda: dt.datetime.now(dt.timezone.utc)  # noqa: E731


@pytest.fixture(scope="module")
def flow(server: harness.ServerProcess, client: WorkOSClient) -> Iterator[Flow]:
    f = make_flow(server, client)
    yield f
    f.close()


def good(flow: Flow, req: AuthnRequest, **kw) -> etree._Element:
    return flow.idp.response_tree(req, audience=flow.audience, **kw)


def signed_assertion(flow: Flow, req: AuthnRequest, **kw) -> etree._Element:
    return flow.idp.sign_assertion(good(flow, req, **kw))


def set_name_id(el: etree._Element, value: str) -> None:
    for n in el.iter(f"{{{SAML}}}NameID"):
        n.text = value


def evil_assertion(original: etree._Element, keep_signature: bool = False) -> etree._Element:
    """A copy of `original` (an Assertion, or a whole Response) with a fresh ID and the
    attacker's NameID; its signature dropped unless `keep_signature`."""
    a = copy.deepcopy(original)
    a.set("ID", f"_evil{uuid.uuid4().hex}")
    set_name_id(a, EVIL)
    if not keep_signature:
        for s in a.findall("ds:Signature", NS):
            a.remove(s)
    return a


def strip_signature(el: etree._Element) -> etree._Element:
    c = copy.deepcopy(el)
    for s in c.findall("ds:Signature", NS):
        c.remove(s)
    return c


def rearranged(build: Callable[[etree._Element, etree._Element], None]) -> Callable[[Flow, AuthnRequest], str]:
    """A case from a response whose assertion is signed: `build(response, assertion)`
    rearranges that tree in place, and the result is what is posted."""
    @functools.wraps(build)
    def case(flow: Flow, req: AuthnRequest) -> str:
        resp = signed_assertion(flow, req)
        build(resp, resp.find("saml:Assertion", NS))
        return encode(resp)
    return case


# --- signature wrapping (SAMLRaider XSW1–8) ------------------------------------------------

def xsw1(flow: Flow, req: AuthnRequest) -> str:
    """Response signature; evil unsigned Response whose copied Signature carries the original in ds:Object."""
    orig = flow.idp.sign_response(good(flow, req))
    evil = evil_assertion(orig, keep_signature=True)
    sig = evil.find("ds:Signature", NS)
    obj = etree.SubElement(sig, f"{{{DS}}}Object")
    obj.append(copy.deepcopy(orig))
    return encode(evil)


def xsw2(flow: Flow, req: AuthnRequest) -> str:
    """Response signature; the original signed Response placed before the evil one's copied Signature (detached)."""
    orig = flow.idp.sign_response(good(flow, req))
    evil = evil_assertion(orig, keep_signature=True)
    sig = evil.find("ds:Signature", NS)
    sig.addprevious(strip_signature(orig))
    return encode(evil)


@rearranged
def xsw3(resp: etree._Element, a: etree._Element) -> None:
    """Assertion signature; an evil unsigned Assertion inserted before the signed one."""
    a.addprevious(evil_assertion(a))


@rearranged
def xsw4(resp: etree._Element, a: etree._Element) -> None:
    """Assertion signature; the signed Assertion moved inside an evil one."""
    evil = evil_assertion(a)
    resp.replace(a, evil)
    evil.append(a)


@rearranged
def xsw5(resp: etree._Element, a: etree._Element) -> None:
    """Assertion signature; the evil Assertion keeps the copied Signature, an unsigned copy of the original is appended."""
    evil = copy.deepcopy(a)
    set_name_id(evil, EVIL)
    resp.replace(a, evil)
    resp.append(strip_signature(a))


@rearranged
def xsw6(resp: etree._Element, a: etree._Element) -> None:
    """Assertion signature; the original (unsigned copy) sits inside the evil Assertion's copied Signature."""
    evil = evil_assertion(a, keep_signature=True)
    evil.find("ds:Signature", NS).append(strip_signature(a))
    resp.replace(a, evil)


@rearranged
def xsw7(resp: etree._Element, a: etree._Element) -> None:
    """Assertion signature; the signed Assertion hidden in samlp:Extensions, an evil unsigned one in its place."""
    ext = etree.Element(f"{{{SAMLP}}}Extensions")
    resp.find("saml:Issuer", NS).addnext(ext)
    resp.replace(a, evil_assertion(a))
    ext.append(a)


@rearranged
def xsw8(resp: etree._Element, a: etree._Element) -> None:
    """Assertion signature; the evil Assertion's Signature holds the original in ds:Object."""
    evil = copy.deepcopy(a)
    set_name_id(evil, EVIL)
    obj = etree.SubElement(evil.find("ds:Signature", NS), f"{{{DS}}}Object")
    obj.append(strip_signature(a))
    resp.replace(a, evil)


@rearranged
def duplicate_ids(resp: etree._Element, a: etree._Element) -> None:
    """An evil Assertion carrying the signed one's ID next to it (ID-based reference confusion)."""
    evil = evil_assertion(a)
    evil.set("ID", a.get("ID"))
    resp.append(evil)


# --- signatures ---------------------------------------------------------------------------

def unsigned(flow: Flow, req: AuthnRequest) -> str:
    return encode(good(flow, req))


def wrong_key(flow: Flow, req: AuthnRequest) -> str:
    return encode(flow.idp.sign_assertion(good(flow, req), keys=KeyPair.generate("Attacker")))


def sha1(flow: Flow, req: AuthnRequest) -> str:
    return encode(flow.idp.sign_assertion(good(flow, req), sha1=True))


def tampered_after_signing(flow: Flow, req: AuthnRequest) -> str:
    resp = signed_assertion(flow, req)
    set_name_id(resp, EVIL)
    return encode(resp)


def response_signature_stripped(flow: Flow, req: AuthnRequest) -> str:
    return encode(strip_signature(flow.idp.sign_response(good(flow, req))))


# --- conditions and bindings --------------------------------------------------------------

def expired(flow: Flow, req: AuthnRequest) -> str:
    past = NOW() - dt.timedelta(minutes=20)
    return encode(flow.idp.sign_assertion(good(flow, req, issue_instant=past, not_before=past, not_on_or_after=past + dt.timedelta(minutes=5))))


def not_yet_valid(flow: Flow, req: AuthnRequest) -> str:
    return encode(flow.idp.sign_assertion(good(flow, req, not_before=NOW() + dt.timedelta(minutes=10), not_on_or_after=NOW() + dt.timedelta(minutes=20))))


def wrong_audience(flow: Flow, req: AuthnRequest) -> str:
    return encode(flow.idp.sign_assertion(flow.idp.response_tree(req, audience="https://other-sp.example/")))


def assertion_signed_with(**kw) -> Callable[[Flow, AuthnRequest], str]:
    """A case: the good response with `kw` changed, its assertion signed."""
    return lambda flow, req: encode(signed_assertion(flow, req, **kw))


def response_signed_with(**kw) -> Callable[[Flow, AuthnRequest], str]:
    """A case: the good response with `kw` changed, the whole response signed."""
    return lambda flow, req: encode(flow.idp.sign_response(good(flow, req, **kw)))


wrong_recipient = assertion_signed_with(recipient="https://other-sp.example/acs")
wrong_destination_signed_response = response_signed_with(destination="https://other-sp.example/acs")
wrong_destination_unsigned_envelope = assertion_signed_with(destination="https://other-sp.example/acs")
wrong_issuer = assertion_signed_with(issuer="https://impostor.example/")
failed_status = response_signed_with(status="urn:oasis:names:tc:SAML:2.0:status:Requester")
unknown_in_response_to = assertion_signed_with(in_response_to="_never_issued_by_us")
unsolicited_when_not_enabled = assertion_signed_with(in_response_to=None)


# --- parsing ------------------------------------------------------------------------------

def comment_in_name_id(flow: Flow, req: AuthnRequest) -> str:
    """CVE-2017-11427 class: a comment splits the signed NameID (exc-c14n ignores comments)."""
    resp = signed_assertion(flow, req, name_id="ada@example.com.evil.test")
    xml = etree.tostring(resp).decode().replace("ada@example.com.evil.test", "ada@example.com<!---->.evil.test", 1)
    return encode(xml)


def xxe(flow: Flow, req: AuthnRequest) -> str:
    xml = etree.tostring(signed_assertion(flow, req)).decode()
    xml = xml.replace("ada@example.com", "&xxe;", 1)
    return encode('<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + xml)


def billion_laughs(flow: Flow, req: AuthnRequest) -> str:
    ents = '<!ENTITY l0 "lol">' + "".join(f'<!ENTITY l{i} "{"&l%d;" % (i - 1) * 10}">' for i in range(1, 10))
    xml = etree.tostring(signed_assertion(flow, req)).decode().replace("ada@example.com", "&l9;", 1)
    return encode(f"<!DOCTYPE r [{ents}]>" + xml)


def truncated(flow: Flow, req: AuthnRequest) -> str:
    data = etree.tostring(signed_assertion(flow, req))
    return base64.b64encode(data[: len(data) // 2]).decode()


def not_base64(flow: Flow, req: AuthnRequest) -> str:
    return "this is %% not base64 !!"


def oversized(flow: Flow, req: AuthnRequest) -> str:
    """Over the 256 KiB cap on the encoded value, refused before decoding."""
    return base64.b64encode(b"<samlp:Response " + b"A" * 200_000 + b"/>").decode()


CASES: Dict[str, tuple[Callable[[Flow, AuthnRequest], str], str]] = {
    "xsw1_response_signature_original_in_object_is_refused": (xsw1, "signature wrapping"),
    "xsw2_response_signature_detached_original_is_refused": (xsw2, "signature wrapping"),
    "xsw3_evil_assertion_before_signed_one_is_refused": (xsw3, "signature wrapping"),
    "xsw4_signed_assertion_inside_evil_one_is_refused": (xsw4, "signature wrapping"),
    "xsw5_evil_assertion_with_copied_signature_is_refused": (xsw5, "signature wrapping"),
    "xsw6_original_inside_copied_signature_is_refused": (xsw6, "signature wrapping"),
    "xsw7_signed_assertion_in_extensions_is_refused": (xsw7, "signature wrapping"),
    "xsw8_original_in_signature_object_is_refused": (xsw8, "signature wrapping"),
    "duplicate_assertion_ids_are_refused": (duplicate_ids, "signature wrapping"),
    "unsigned_assertion_is_refused": (unsigned, "signature invalid or missing"),
    "assertion_signed_by_another_key_is_refused": (wrong_key, "signature invalid or missing"),
    "sha1_signature_is_refused": (sha1, "weak signature algorithm"),
    "assertion_changed_after_signing_is_refused": (tampered_after_signing, "signature invalid or missing"),
    "response_with_its_signature_stripped_is_refused": (response_signature_stripped, "signature invalid or missing"),
    "expired_assertion_is_refused": (expired, "expired"),
    "not_yet_valid_assertion_is_refused": (not_yet_valid, "not yet valid"),
    "assertion_for_another_audience_is_refused": (wrong_audience, "audience mismatch"),
    "assertion_for_another_recipient_is_refused": (wrong_recipient, "recipient mismatch"),
    "signed_response_for_another_destination_is_refused": (wrong_destination_signed_response, "destination mismatch"),
    "unsigned_envelope_for_another_destination_is_refused": (wrong_destination_unsigned_envelope, "destination mismatch"),
    "assertion_from_another_issuer_is_refused": (wrong_issuer, "issuer mismatch"),
    "non_success_status_is_refused": (failed_status, "non-success status"),
    "unknown_in_response_to_is_refused": (unknown_in_response_to, "InResponseTo"),
    "unsolicited_response_is_refused_when_idp_initiated_is_off": (unsolicited_when_not_enabled, "IdP-initiated"),
    "comment_injected_into_name_id_is_refused": (comment_in_name_id, "comments are not allowed"),
    "xxe_external_entity_is_refused": (xxe, "document type"),
    "billion_laughs_entity_bomb_is_refused": (billion_laughs, "document type"),
    "truncated_response_is_refused": (truncated, "malformed"),
    "non_base64_response_is_refused": (not_base64, "malformed"),
    "oversized_response_is_refused": (oversized, "too large"),
}


def assert_refused(r: httpx.Response) -> None:
    """No code reaches the application: an error page, or a redirect carrying `error`."""
    if r.status_code == 302:
        q = parse_qs(urlparse(r.headers["location"]).query)
        assert "code" not in q, f"a code was issued: {r.headers['location']}"
        assert q.get("error") == ["invalid_saml_response"], q
    else:
        assert r.status_code in (400, 404, 413), f"{r.status_code} {r.text}"
        assert "location" not in r.headers


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_attack_is_refused_and_server_keeps_serving(flow: Flow, client: WorkOSClient, case: str) -> None:
    build, reason = CASES[case]
    req = flow.authorize(client)
    r = flow.post(build(flow, req))
    assert_refused(r)
    latest = flow.login_attempts()[0]
    assert latest["outcome"] == "failed"
    assert reason.lower() in (latest["reason"] or "").lower(), latest
    # Still serving: the same pending request can still be answered properly, once.
    assert flow.browser.get("/health").status_code == 200
    code, _ = code_and_state(flow.post(encode(signed_assertion(flow, req))))
    assert client.sso.get_profile_and_token(code=code).profile.email == "ada@example.com"


def test_reused_in_response_to_is_refused(flow: Flow, client: WorkOSClient) -> None:
    req = flow.authorize(client)
    code_and_state(flow.post(encode(signed_assertion(flow, req))))
    # A second, freshly signed assertion for the already-answered request.
    r = flow.post(encode(signed_assertion(flow, req)))
    assert_refused(r)
    assert "InResponseTo" in flow.login_attempts()[0]["reason"]


def test_replayed_response_is_refused(flow: Flow, client: WorkOSClient) -> None:
    req = flow.authorize(client)
    body = encode(signed_assertion(flow, req))
    code_and_state(flow.post(body))
    assert_refused(flow.post(body))


def test_replayed_unsolicited_assertion_is_refused_by_the_replay_cache(server: harness.ServerProcess, client: WorkOSClient) -> None:
    f = make_flow(server, client, allow_idp_initiated=True)
    try:
        api = httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {harness.DEV_API_KEY}"})
        api.post("/user_management/redirect_uris", json={"uri": "http://localhost:8123/callback", "default": True})
        api.close()
        resp = f.idp.sign_assertion(f.idp.response_tree(None, audience=f.audience, acs_url=f.acs_url, in_response_to=None))
        body = encode(resp)
        code, state = code_and_state(f.post(body))
        assert state == ""
        assert client.sso.get_profile_and_token(code=code).profile.email == "ada@example.com"
        assert_refused(f.post(body))
        assert f.login_attempts()[0]["reason"] == "assertion replayed"
    finally:
        f.close()


def test_body_over_the_acs_limit_is_refused(flow: Flow) -> None:
    r = flow.browser.post(flow.acs_url, content=b"SAMLResponse=" + b"A" * 450_000,
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    assert flow.browser.get("/health").status_code == 200
