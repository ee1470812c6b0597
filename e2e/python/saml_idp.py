"""A SAML 2.0 identity provider for tests: real RSA keys and X.509 certificates
(`cryptography`), real enveloped XML signatures (`signxml`, exclusive C14N), and
the browser's part of the HTTP-Redirect and HTTP-POST bindings done with httpx.

`TestIdp.response(...)` builds a Response for an AuthnRequest; keyword arguments
bend one thing at a time (expiry, audience, recipient, which element is signed…),
so each attack case states exactly what it changes.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Dict, List, Optional
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner, methods
from signxml.algorithms import DigestAlgorithm, SignatureMethod

SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
DS = "http://www.w3.org/2000/09/xmldsig#"
NS = {"samlp": SAMLP, "saml": SAML, "ds": DS}
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _instant(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class KeyPair:
    """An RSA key with a self-signed certificate (PEM)."""

    key_pem: bytes
    cert_pem: bytes

    @classmethod
    def generate(cls, name: str = "Vestibule Test IdP") -> "KeyPair":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .sign(key, hashes.SHA256())
        )
        return cls(
            key_pem=key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        )


class _Sha1Signer(XMLSigner):
    """signxml refuses SHA-1 by default; the downgrade attack needs a SHA-1 signature."""

    def check_deprecated_methods(self) -> None:  # noqa: D102
        return None


def sign(element: etree._Element, keys: KeyPair, *, sha1: bool = False) -> etree._Element:
    """Enveloped signature over `element` (by its ID), placed after its Issuer as SAML requires."""
    placeholder = etree.Element(_q(DS, "Signature"), Id="placeholder", nsmap={"ds": DS})
    issuer = element.find("saml:Issuer", NS)
    if issuer is not None:
        issuer.addnext(placeholder)
    else:
        element.insert(0, placeholder)
    signer_cls = _Sha1Signer if sha1 else XMLSigner
    signer = signer_cls(
        method=methods.enveloped,
        signature_algorithm=SignatureMethod.RSA_SHA1 if sha1 else SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA1 if sha1 else DigestAlgorithm.SHA256,
        c14n_algorithm=EXC_C14N,
    )
    signer.namespaces = {"ds": DS}
    return signer.sign(element, key=keys.key_pem, cert=[keys.cert_pem.decode()], reference_uri=element.get("ID"))


@dataclass
class AuthnRequest:
    """What the IdP read out of the SAMLRequest it was sent."""

    id: str
    acs_url: str
    issuer: str
    relay_state: Optional[str]


def read_redirect(location: str) -> AuthnRequest:
    """Decodes an HTTP-Redirect binding URL (deflate + base64) into its AuthnRequest."""
    q = parse_qs(urlparse(location).query)
    raw = zlib.decompress(base64.b64decode(q["SAMLRequest"][0]), -15)
    root = etree.fromstring(raw)
    assert root.tag == _q(SAMLP, "AuthnRequest"), root.tag
    issuer = root.find("saml:Issuer", NS)
    return AuthnRequest(
        id=root.get("ID"),
        acs_url=root.get("AssertionConsumerServiceURL"),
        issuer=issuer.text if issuer is not None else "",
        relay_state=q.get("RelayState", [None])[0],
    )


@dataclass
class TestIdp:
    __test__ = False  # a helper, not a test class

    """One IdP: its entity id, SSO URL, and signing key."""

    entity_id: str = field(default_factory=lambda: f"https://idp.example.test/{uuid.uuid4().hex[:8]}")
    sso_url: str = "https://idp.example.test/sso"
    keys: KeyPair = field(default_factory=KeyPair.generate)

    def metadata_xml(self) -> str:
        der = x509.load_pem_x509_certificate(self.keys.cert_pem).public_bytes(serialization.Encoding.DER)
        cert = base64.b64encode(der).decode()
        return (
            f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{self.entity_id}">'
            '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
            f"<ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
            '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
            f'Location="{self.sso_url}"/></md:IDPSSODescriptor></md:EntityDescriptor>'
        )

    def response_tree(
        self,
        request: Optional[AuthnRequest],
        *,
        audience: str,
        acs_url: Optional[str] = None,
        name_id: str = "ada@example.com",
        attributes: Optional[Dict[str, List[str]]] = None,
        issuer: Optional[str] = None,
        destination: Optional[str] = None,
        recipient: Optional[str] = None,
        in_response_to: Optional[str] = "request",
        not_before: Optional[dt.datetime] = None,
        not_on_or_after: Optional[dt.datetime] = None,
        issue_instant: Optional[dt.datetime] = None,
        status: str = "urn:oasis:names:tc:SAML:2.0:status:Success",
        assertion_id: Optional[str] = None,
    ) -> etree._Element:
        """An unsigned Response; `sign_response`/`sign_assertion` sign it."""
        now = dt.datetime.now(dt.timezone.utc)
        acs = acs_url or (request.acs_url if request else "")
        irt = (request.id if request else None) if in_response_to == "request" else in_response_to
        issue_instant = issue_instant or now
        not_before = not_before or now - dt.timedelta(seconds=5)
        not_on_or_after = not_on_or_after or now + dt.timedelta(minutes=5)
        resp = etree.Element(_q(SAMLP, "Response"), nsmap={"samlp": SAMLP, "saml": SAML})
        resp.set("ID", f"_resp{uuid.uuid4().hex}")
        resp.set("Version", "2.0")
        resp.set("IssueInstant", _instant(issue_instant))
        resp.set("Destination", destination if destination is not None else acs)
        if irt:
            resp.set("InResponseTo", irt)
        etree.SubElement(resp, _q(SAML, "Issuer")).text = issuer or self.entity_id
        st = etree.SubElement(resp, _q(SAMLP, "Status"))
        etree.SubElement(st, _q(SAMLP, "StatusCode"), Value=status)
        a = etree.SubElement(resp, _q(SAML, "Assertion"))
        a.set("ID", assertion_id or f"_a{uuid.uuid4().hex}")
        a.set("Version", "2.0")
        a.set("IssueInstant", _instant(issue_instant))
        etree.SubElement(a, _q(SAML, "Issuer")).text = issuer or self.entity_id
        subj = etree.SubElement(a, _q(SAML, "Subject"))
        nid = etree.SubElement(subj, _q(SAML, "NameID"), Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress")
        nid.text = name_id
        sc = etree.SubElement(subj, _q(SAML, "SubjectConfirmation"), Method="urn:oasis:names:tc:SAML:2.0:cm:bearer")
        scd = etree.SubElement(sc, _q(SAML, "SubjectConfirmationData"))
        scd.set("NotOnOrAfter", _instant(not_on_or_after))
        scd.set("Recipient", recipient if recipient is not None else acs)
        if irt:
            scd.set("InResponseTo", irt)
        cond = etree.SubElement(a, _q(SAML, "Conditions"))
        cond.set("NotBefore", _instant(not_before))
        cond.set("NotOnOrAfter", _instant(not_on_or_after))
        ar = etree.SubElement(cond, _q(SAML, "AudienceRestriction"))
        etree.SubElement(ar, _q(SAML, "Audience")).text = audience
        stmt = etree.SubElement(a, _q(SAML, "AuthnStatement"), AuthnInstant=_instant(now), SessionIndex=f"_s{uuid.uuid4().hex[:8]}")
        ctx = etree.SubElement(stmt, _q(SAML, "AuthnContext"))
        etree.SubElement(ctx, _q(SAML, "AuthnContextClassRef")).text = (
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
        )
        attrs = attributes if attributes is not None else {
            "email": [name_id],
            "firstName": ["Ada"],
            "lastName": ["Lovelace"],
            "groups": ["Engineering", "Admins"],
        }
        if attrs:
            astmt = etree.SubElement(a, _q(SAML, "AttributeStatement"))
            for name, values in attrs.items():
                at = etree.SubElement(astmt, _q(SAML, "Attribute"), Name=name)
                for v in values:
                    etree.SubElement(at, _q(SAML, "AttributeValue")).text = v
        return resp

    def sign_assertion(self, resp: etree._Element, *, keys: Optional[KeyPair] = None, sha1: bool = False) -> etree._Element:
        """Signs the Assertion in place (a copy is signed and put back)."""
        a = resp.find("saml:Assertion", NS)
        signed = sign(copy.deepcopy(a), keys or self.keys, sha1=sha1)
        resp.replace(a, signed)
        return resp

    def sign_response(self, resp: etree._Element, *, keys: Optional[KeyPair] = None, sha1: bool = False) -> etree._Element:
        """Signs the whole Response."""
        return sign(resp, keys or self.keys, sha1=sha1)


def encode(resp: etree._Element | bytes | str) -> str:
    """The SAMLResponse form value: base64 of the document."""
    if isinstance(resp, etree._Element):
        data = etree.tostring(resp)
    elif isinstance(resp, str):
        data = resp.encode()
    else:
        data = resp
    return base64.b64encode(data).decode()
