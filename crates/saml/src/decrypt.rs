//! `EncryptedAssertion` (XML Encryption): the content key by RSA-OAEP (MGF1, SHA-1) with
//! our private key, the assertion by AES-GCM (128 or 256). Nothing weaker: RSA PKCS#1
//! v1.5 and AES-CBC are refused because an unauthenticated response reaches decryption
//! before any signature check, and both give padding oracles there. Every failure is the
//! same [`Rejection::Encrypted`], whatever went wrong.

use crate::metadata::{AES128_GCM, AES256_GCM, RSA_OAEP_MGF1P};
use crate::refuse_dangerous_markup;
use crate::verify::Rejection;
use base64::Engine as _;

const XENC_NS: &[u8] = b"http://www.w3.org/2001/04/xmlenc#";
const ASSERTION_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";
const DSIG_NS: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
/// Largest ciphertext accepted (the whole response is capped before this anyway).
const MAX_CIPHERTEXT: usize = 256 * 1024;

/// What the `EncryptedAssertion` element says, and where it is in the document.
#[derive(Default)]
struct Parts {
    start: usize,
    end: usize,
    /// The Response's own signature, made over the ciphertext: dropped with it.
    signature: Option<(usize, usize)>,
    signature_start: usize,
    data_method: Option<String>,
    key_method: Option<String>,
    key_digest: Option<String>,
    key_cipher: Option<String>,
    data_cipher: Option<String>,
}

/// Reads the one `EncryptedAssertion` (a direct child of the root, as the shape check
/// requires) by element path, so nothing outside the expected places is used.
fn read_parts(xml: &str) -> Result<Parts, Rejection> {
    use quick_xml::events::Event as X;
    use quick_xml::name::ResolveResult;
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut path: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut parts = Parts::default();
    let mut found = 0;
    let mut text_target: Option<u8> = None; // 1 = key cipher, 2 = data cipher
    loop {
        let before = usize::try_from(reader.buffer_position()).map_err(|_| Rejection::Malformed)?;
        let (ns, event) = reader.read_resolved_event().map_err(|_| Rejection::Malformed)?;
        let ns = match ns {
            ResolveResult::Bound(n) => n.as_ref().to_vec(),
            _ => Vec::new(),
        };
        match event {
            X::Start(ref e) | X::Empty(ref e) => {
                let empty = matches!(event, X::Empty(_));
                let local = e.local_name().as_ref().to_vec();
                let depth = path.len();
                if depth == 1 && ns == ASSERTION_NS && local == b"EncryptedAssertion" {
                    found += 1;
                    parts.start = before;
                }
                if depth == 1 && ns == DSIG_NS && local == b"Signature" {
                    if parts.signature.is_some() || parts.signature_start != 0 {
                        return Err(Rejection::Wrapping);
                    }
                    parts.signature_start = before;
                    if empty {
                        parts.signature = Some((
                            before,
                            usize::try_from(reader.buffer_position()).map_err(|_| Rejection::Malformed)?,
                        ));
                    }
                }
                let names: Vec<&[u8]> = path.iter().skip(1).map(|(_, l)| l.as_slice()).collect();
                let attr = |name: &[u8]| -> Option<String> {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == name)
                        .and_then(|a| String::from_utf8(a.value.to_vec()).ok())
                };
                if ns == XENC_NS && local == b"EncryptionMethod" {
                    match names.as_slice() {
                        [b"EncryptedAssertion", b"EncryptedData"] => parts.data_method = attr(b"Algorithm"),
                        [b"EncryptedAssertion", b"EncryptedData", b"KeyInfo", b"EncryptedKey"]
                        | [b"EncryptedAssertion", b"EncryptedKey"] => parts.key_method = attr(b"Algorithm"),
                        _ => {}
                    }
                }
                if ns == DSIG_NS
                    && local == b"DigestMethod"
                    && matches!(
                        names.as_slice(),
                        [b"EncryptedAssertion", b"EncryptedData", b"KeyInfo", b"EncryptedKey", b"EncryptionMethod"]
                            | [b"EncryptedAssertion", b"EncryptedKey", b"EncryptionMethod"]
                    )
                {
                    parts.key_digest = attr(b"Algorithm");
                }
                if ns == XENC_NS && local == b"CipherValue" {
                    text_target = match names.as_slice() {
                        [b"EncryptedAssertion", b"EncryptedData", b"KeyInfo", b"EncryptedKey", b"CipherData"]
                        | [b"EncryptedAssertion", b"EncryptedKey", b"CipherData"] => Some(1),
                        [b"EncryptedAssertion", b"EncryptedData", b"CipherData"] => Some(2),
                        _ => None,
                    };
                }
                if !empty {
                    path.push((ns, local));
                }
            }
            X::Text(t) => {
                if let Some(which) = text_target {
                    let text = t.decode().map_err(|_| Rejection::Malformed)?.into_owned();
                    let slot = if which == 1 { &mut parts.key_cipher } else { &mut parts.data_cipher };
                    if slot.is_some() {
                        return Err(Rejection::Encrypted);
                    }
                    *slot = Some(text);
                }
            }
            X::End(_) => {
                text_target = None;
                let closed = path.pop();
                let here = usize::try_from(reader.buffer_position()).map_err(|_| Rejection::Malformed)?;
                match closed {
                    Some((n, l)) if path.len() == 1 && n == ASSERTION_NS && l == b"EncryptedAssertion" => {
                        parts.end = here
                    }
                    Some((n, l)) if path.len() == 1 && n == DSIG_NS && l == b"Signature" => {
                        parts.signature = Some((parts.signature_start, here))
                    }
                    _ => {}
                }
            }
            X::Eof => break,
            _ => {}
        }
    }
    if found != 1 || parts.end <= parts.start {
        return Err(Rejection::Encrypted);
    }
    Ok(parts)
}

fn b64(text: &str) -> Result<Vec<u8>, Rejection> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.len() > MAX_CIPHERTEXT * 4 / 3 + 4 {
        return Err(Rejection::Encrypted);
    }
    base64::engine::general_purpose::STANDARD.decode(compact).map_err(|_| Rejection::Encrypted)
}

/// The plaintext of the assertion, or `Encrypted` for any failure.
fn decrypt_parts(parts: &Parts, private_pkcs8: &[u8]) -> Result<Vec<u8>, Rejection> {
    let fail = |_| Rejection::Encrypted;
    if parts.key_method.as_deref() != Some(RSA_OAEP_MGF1P) || parts.key_digest.as_deref().is_some_and(|d| d != SHA1) {
        return Err(Rejection::Encrypted);
    }
    let cipher = match parts.data_method.as_deref() {
        Some(AES128_GCM) => openssl::symm::Cipher::aes_128_gcm(),
        Some(AES256_GCM) => openssl::symm::Cipher::aes_256_gcm(),
        _ => return Err(Rejection::Encrypted),
    };
    let wrapped = b64(parts.key_cipher.as_deref().ok_or(Rejection::Encrypted)?)?;
    let data = b64(parts.data_cipher.as_deref().ok_or(Rejection::Encrypted)?)?;
    let key = openssl::pkey::PKey::private_key_from_pkcs8(private_pkcs8).map_err(fail)?;
    let rsa = key.rsa().map_err(fail)?;
    if wrapped.len() != rsa.size() as usize {
        return Err(Rejection::Encrypted);
    }
    let mut content_key = vec![0u8; rsa.size() as usize];
    let n = rsa.private_decrypt(&wrapped, &mut content_key, openssl::rsa::Padding::PKCS1_OAEP).map_err(fail)?;
    content_key.truncate(n);
    if content_key.len() != cipher.key_len() {
        return Err(Rejection::Encrypted);
    }
    // XML Encryption 1.1 AES-GCM: a 96-bit IV, the ciphertext, a 128-bit tag.
    const IV: usize = 12;
    const TAG: usize = 16;
    if data.len() < IV + TAG {
        return Err(Rejection::Encrypted);
    }
    let (iv, rest) = data.split_at(IV);
    let (body, tag) = rest.split_at(rest.len() - TAG);
    openssl::symm::decrypt_aead(cipher, &content_key, Some(iv), &[], body, tag).map_err(fail)
}

/// The response with its `EncryptedAssertion` replaced by the decrypted `Assertion`.
/// The plaintext must be UTF-8, free of DTDs, entities, comments, CDATA and processing
/// instructions, and must not start with an XML declaration.
pub(crate) fn decrypt_in_place(xml: &str, private_pkcs8: &[u8]) -> Result<String, Rejection> {
    let parts = read_parts(xml)?;
    let plaintext = decrypt_parts(&parts, private_pkcs8)?;
    let plaintext = String::from_utf8(plaintext).map_err(|_| Rejection::Encrypted)?;
    let trimmed = plaintext.trim();
    if !trimmed.starts_with('<') {
        return Err(Rejection::Encrypted);
    }
    refuse_dangerous_markup(trimmed)?;
    if trimmed.starts_with("<?") {
        return Err(Rejection::DocumentType);
    }
    // The assertion goes where the ciphertext was; a Response signature, made over the
    // ciphertext, is dropped (it cannot verify any more), so the assertion's own
    // signature is the one that must cover what is read.
    let mut cuts = vec![(parts.start, parts.end, trimmed)];
    if let Some((a, b)) = parts.signature {
        cuts.push((a, b, ""));
    }
    cuts.sort_by_key(|c| c.0);
    let mut out = String::with_capacity(xml.len() + trimmed.len());
    let mut at = 0;
    for (a, b, with) in cuts {
        if a < at || b > xml.len() {
            return Err(Rejection::Malformed);
        }
        out.push_str(&xml[at..a]);
        out.push_str(with);
        at = b;
    }
    out.push_str(&xml[at..]);
    Ok(out)
}
