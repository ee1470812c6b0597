"""Encrypted assertions (issue 6): each SAML connection has its own encryption key, whose
certificate is in its SP metadata (`use="encryption"`). The test IdP encrypts for real
(RSA-OAEP key transport, AES-GCM content, XML Encryption 1.1 layout, `cryptography`),
and the decrypted assertion must pass every check a plain one does, its own signature
first. Hostile variants are refused with no code issued.
"""

from __future__ import annotations

import base64
import os
import re
from typing import Iterator, Optional

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from lxml import etree
from workos import WorkOSClient

import harness
from saml_idp import NS, SAML, KeyPair, encode
from test_sso_saml import Flow, code_and_state, make_flow
from test_sso_saml_attacks import assert_refused, evil_assertion

XENC = "http://www.w3.org/2001/04/xmlenc#"
DS = "http://www.w3.org/2000/09/xmldsig#"
OAEP = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
GCM256 = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
GCM128 = "http://www.w3.org/2009/xmlenc11#aes128-gcm"


@pytest.fixture(scope="module")
def flow(server: harness.ServerProcess, client: WorkOSClient) -> Iterator[Flow]:
    f = make_flow(server, client)
    yield f
    f.close()


def sp_certificate(flow: Flow) -> x509.Certificate:
    r = flow.browser.get(flow.connection["saml"]["sp_metadata_url"])
    m = re.search(r'<md:KeyDescriptor use="encryption">.*?<ds:X509Certificate>([^<]+)</ds:X509Certificate>', r.text, re.S)
    assert m, r.text
    return x509.load_der_x509_certificate(base64.b64decode(m.group(1)))


def encrypt(resp: etree._Element, cert: x509.Certificate, *, method: str = GCM256, key_method: str = OAEP,
            plaintext: Optional[bytes] = None, tamper: bool = False) -> etree._Element:
    """Replaces the response's Assertion by an EncryptedAssertion of it (or of `plaintext`)."""
    a = resp.find("saml:Assertion", NS)
    data = plaintext if plaintext is not None else etree.tostring(a)
    key = os.urandom(16 if method == GCM128 else 32)
    iv = os.urandom(12)
    sealed = bytearray(iv + AESGCM(key).encrypt(iv, data, None))
    if tamper:
        sealed[20] ^= 1
    wrapped = cert.public_key().encrypt(key, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None))
    ea = etree.Element(f"{{{SAML}}}EncryptedAssertion")
    ed = etree.SubElement(ea, f"{{{XENC}}}EncryptedData", nsmap={"xenc": XENC}, Type=XENC + "Element")
    etree.SubElement(ed, f"{{{XENC}}}EncryptionMethod", Algorithm=method)
    ki = etree.SubElement(ed, f"{{{DS}}}KeyInfo", nsmap={"ds": DS})
    ek = etree.SubElement(ki, f"{{{XENC}}}EncryptedKey")
    etree.SubElement(ek, f"{{{XENC}}}EncryptionMethod", Algorithm=key_method)
    etree.SubElement(etree.SubElement(ek, f"{{{XENC}}}CipherData"), f"{{{XENC}}}CipherValue").text = base64.b64encode(wrapped).decode()
    etree.SubElement(etree.SubElement(ed, f"{{{XENC}}}CipherData"), f"{{{XENC}}}CipherValue").text = base64.b64encode(bytes(sealed)).decode()
    resp.replace(a, ea)
    return resp


def test_sp_metadata_publishes_an_encryption_certificate_and_no_key(flow: Flow) -> None:
    cert = sp_certificate(flow)
    assert cert.public_key().key_size == 2048
    served = flow.connection["saml"]
    assert served["sp_encryption_certificate"]
    assert "PRIVATE" not in str(flow.connection) and "sp_encryption_key" not in served


def test_signed_response_around_a_signed_then_encrypted_assertion_logs_in(flow: Flow, client: WorkOSClient) -> None:
    """Both signed (Okta's default): the Response signature was made over the
    ciphertext and is set aside after decryption; the assertion's own signature is the
    one that covers what is read."""
    req = flow.authorize(client)
    resp = flow.idp.sign_assertion(flow.idp.response_tree(req, audience=flow.audience))
    code, _ = code_and_state(flow.post(encode(flow.idp.sign_response(encrypt(resp, sp_certificate(flow))))))
    assert client.sso.get_profile_and_token(code=code).profile.email == "ada@example.com"


@pytest.mark.parametrize("method", [GCM256, GCM128])
def test_signed_then_encrypted_assertion_logs_in(flow: Flow, client: WorkOSClient, method: str) -> None:
    req = flow.authorize(client)
    resp = flow.idp.sign_assertion(flow.idp.response_tree(req, audience=flow.audience))
    code, _ = code_and_state(flow.post(encode(encrypt(resp, sp_certificate(flow), method=method))))
    profile = client.sso.get_profile_and_token(code=code).profile
    assert profile.email == "ada@example.com" and profile.connection_id == flow.connection["id"]


def _unsigned(flow: Flow, req, cert):
    return encrypt(flow.idp.response_tree(req, audience=flow.audience), cert)


def _response_signed_over_ciphertext(flow: Flow, req, cert):
    return flow.idp.sign_response(encrypt(flow.idp.response_tree(req, audience=flow.audience), cert))


def _other_key(flow: Flow, req, cert):
    other = x509.load_pem_x509_certificate(KeyPair.generate("Not the SP").cert_pem)
    return encrypt(flow.idp.sign_assertion(flow.idp.response_tree(req, audience=flow.audience)), other)


def _rsa_1_5(flow: Flow, req, cert):
    return encrypt(flow.idp.sign_assertion(flow.idp.response_tree(req, audience=flow.audience)), cert,
                   key_method="http://www.w3.org/2001/04/xmlenc#rsa-1_5")


def _cbc(flow: Flow, req, cert):
    return encrypt(flow.idp.sign_assertion(flow.idp.response_tree(req, audience=flow.audience)), cert,
                   method="http://www.w3.org/2001/04/xmlenc#aes128-cbc")


def _tampered(flow: Flow, req, cert):
    return encrypt(flow.idp.sign_assertion(flow.idp.response_tree(req, audience=flow.audience)), cert, tamper=True)


def _comment_in_plaintext(flow: Flow, req, cert):
    resp = flow.idp.sign_assertion(flow.idp.response_tree(req, audience=flow.audience))
    text = etree.tostring(resp.find("saml:Assertion", NS)).replace(b"ada@example.com", b"ada@example.com<!---->.evil.test")
    return encrypt(resp, cert, plaintext=text)


def _doctype_in_plaintext(flow: Flow, req, cert):
    resp = flow.idp.sign_assertion(flow.idp.response_tree(req, audience=flow.audience))
    return encrypt(resp, cert, plaintext=b'<!DOCTYPE x [<!ENTITY e "x">]>' + etree.tostring(resp.find("saml:Assertion", NS)))


def _wrapped_in_plaintext(flow: Flow, req, cert):
    resp = flow.idp.sign_assertion(flow.idp.response_tree(req, audience=flow.audience))
    signed = resp.find("saml:Assertion", NS)
    return encrypt(resp, cert, plaintext=etree.tostring(evil_assertion(signed)) + etree.tostring(signed))


def _nested_encryption(flow: Flow, req, cert):
    inner = encrypt(flow.idp.sign_assertion(flow.idp.response_tree(req, audience=flow.audience)), cert)
    ea = inner.find("saml:EncryptedAssertion", NS)
    return encrypt(flow.idp.response_tree(req, audience=flow.audience), cert, plaintext=etree.tostring(ea))


CASES = {
    "unsigned_assertion": (_unsigned, "signature invalid or missing"),
    "response_signed_over_ciphertext_only": (_response_signed_over_ciphertext, "signature invalid or missing"),
    "encrypted_to_another_key": (_other_key, "encrypted assertion refused"),
    "rsa_pkcs1_v1_5_key_transport": (_rsa_1_5, "encrypted assertion refused"),
    "aes_cbc_content": (_cbc, "encrypted assertion refused"),
    "tampered_ciphertext": (_tampered, "encrypted assertion refused"),
    "comment_in_decrypted_name_id": (_comment_in_plaintext, "comments are not allowed"),
    "doctype_in_decrypted_assertion": (_doctype_in_plaintext, "document type declarations and entities are not allowed"),
    "two_assertions_in_plaintext": (_wrapped_in_plaintext, "unexpected document structure (signature wrapping)"),
    "encrypted_assertion_inside_encrypted_assertion": (_nested_encryption, "encrypted assertion refused"),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_hostile_encrypted_assertion_is_refused(flow: Flow, client: WorkOSClient, case: str) -> None:
    req = flow.authorize(client)
    build, reason = CASES[case]
    assert_refused(flow.post(encode(build(flow, req, sp_certificate(flow)))))
    attempts = flow.login_attempts()
    assert (attempts[0]["outcome"], attempts[0]["reason"]) == ("failed", reason), attempts[0]
    # The server goes on serving: a good encrypted login right after succeeds.
    req = flow.authorize(client)
    resp = flow.idp.sign_assertion(flow.idp.response_tree(req, audience=flow.audience))
    code, _ = code_and_state(flow.post(encode(encrypt(resp, sp_certificate(flow)))))
    assert client.sso.get_profile_and_token(code=code).profile.email == "ada@example.com"
