"""Writes the fuzz seed corpus (crates/saml/fuzz/seeds) from the e2e test fixtures:
the test IdP's signed responses and metadata (e2e/python/saml_idp.py) and the
signature-wrapping shapes of the attack corpus (e2e/python/test_sso_saml_attacks.py).

    .venv-e2e/bin/python crates/saml/fuzz/make_seeds.py

The responses are addressed to the connection the `saml_response` target verifies
against (entity ids and ACS URL below), so mutations start from documents that reach
the signature check and the checks after it.
"""

from __future__ import annotations

import base64
import hashlib
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "e2e" / "python"))

from lxml import etree  # noqa: E402

import test_sso_saml_attacks as attacks  # noqa: E402
from saml_idp import AuthnRequest, TestIdp  # noqa: E402

SEEDS = pathlib.Path(__file__).resolve().parent / "seeds"
# The fixed connection of fuzz_targets/saml_response.rs.
SP_ENTITY_ID = "https://sp.test/metadata/k"
ACS_URL = "https://sp.test/acs/k"
IDP_ENTITY_ID = "https://idp.test"


class Flow:
    """What the attack builders read from a test flow."""

    def __init__(self, idp: TestIdp) -> None:
        self.idp = idp
        self.audience = SP_ENTITY_ID
        self.acs_url = ACS_URL


def write(target: str, data: bytes) -> None:
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)


def main() -> None:
    idp = TestIdp(entity_id=IDP_ENTITY_ID, sso_url="https://idp.test/sso")
    flow = Flow(idp)
    req = AuthnRequest(id="_r1", acs_url=ACS_URL, issuer=SP_ENTITY_ID, relay_state=None)
    signed_assertion = idp.sign_assertion(idp.response_tree(req, audience=SP_ENTITY_ID))
    signed_response = idp.sign_response(idp.response_tree(req, audience=SP_ENTITY_ID))
    both = idp.sign_response(idp.sign_assertion(idp.response_tree(req, audience=SP_ENTITY_ID)))
    unsigned = idp.response_tree(req, audience=SP_ENTITY_ID)
    for doc in (signed_assertion, signed_response, both, unsigned):
        xml = etree.tostring(doc)
        write("saml_response", xml)
        write("saml_response", base64.b64encode(xml))
    for builder in (attacks.xsw1, attacks.xsw2, attacks.xsw3, attacks.xsw4, attacks.xsw5, attacks.xsw6, attacks.xsw7, attacks.xsw8):
        write("saml_response", base64.b64decode(builder(flow, req)))
    # An EncryptedAssertion in place of the assertion (the shape, not real ciphertext).
    enc = etree.tostring(unsigned).replace(b"<saml:Assertion ", b"<saml:EncryptedAssertion ").replace(
        b"</saml:Assertion>", b"</saml:EncryptedAssertion>"
    )
    write("saml_response", enc)

    meta = idp.metadata_xml()
    write("idp_metadata", meta.encode())
    write("idp_metadata", meta.replace("HTTP-Redirect", "HTTP-POST").encode())
    write("idp_metadata", meta.replace('use="signing"', 'use="encryption"').encode())
    write("idp_metadata", meta.replace(' use="signing"', "").encode())
    write("idp_metadata", ('<?xml version="1.0" encoding="UTF-8"?>\n' + meta).encode())
    write("idp_metadata", idp.keys.cert_pem)
    # The structure check sees responses too.
    write("idp_metadata", etree.tostring(signed_assertion))


if __name__ == "__main__":
    main()
