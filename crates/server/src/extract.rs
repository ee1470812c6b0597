//! Extractors that own every rejection: bodies, query strings and path segments that
//! cannot be read become WorkOS-shaped errors, never axum's plain text.

use crate::error::{ApiError, validation};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use bytes::Bytes;
use serde_json::{Map, Value};
use vestibule_core::FieldError;
use vestibule_core::kernel::fields::nul_path;
use vestibule_core::kernel::pagination::{Order, PageRequest};
use vestibule_ids::Kind;

/// A request body as JSON. An empty body counts as `{}` (SDKs send bodyless POSTs with
/// a JSON content type); form-encoded bodies become an object of strings.
pub struct Body(pub Value);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::Malformed("The request body could not be read.".into())
            }
        })?;
        parse_body(&bytes, form).map(Body)
    }
}

/// Parses a body as JSON (or form fields).
pub fn parse_body(bytes: &[u8], form: bool) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    if form {
        let obj: Map<String, Value> =
            form_urlencoded::parse(bytes).map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect();
        return Ok(Value::Object(obj));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::Malformed(format!("The request body is not valid JSON: {e}.")))?;
    refuse_nul(&value)?;
    Ok(value)
}

/// A field error for the first string holding a NUL character: no engine stores one the
/// same way (PostgreSQL not at all), so it is refused before anything runs.
fn refuse_nul(value: &Value) -> Result<(), ApiError> {
    match nul_path(value) {
        None => Ok(()),
        Some(field) => {
            Err(validation(vec![FieldError::explained(field, "invalid_character", "NUL characters are not allowed.")]))
        }
    }
}

/// The query string as ordered pairs, with the three array encodings understood.
pub struct Query(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        if q.len() > 8192 {
            return Err(ApiError::Malformed("The query string is too long.".into()));
        }
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        if let Some((k, _)) = pairs.iter().find(|(k, v)| k.contains('\0') || v.contains('\0')) {
            let field = k.replace('\0', "\\0");
            return Err(validation(vec![FieldError::explained(
                field,
                "invalid_character",
                "NUL characters are not allowed.",
            )]));
        }
        Ok(Query(pairs))
    }
}

impl Query {
    /// The last non-empty value of `key`; an empty value counts as absent.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// All values of an array parameter: `k=a,b`, `k=a&k=b` or `k[]=a&k[]=b`.
    pub fn list(&self, key: &str) -> Vec<String> {
        let bracketed = format!("{key}[]");
        self.0
            .iter()
            .filter(|(k, _)| *k == key || *k == bracketed)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// `limit`, `before`, `after` and `order`, validated; cursors must be ids of `kind`.
    pub fn page_of(&self, kind: Kind) -> Result<PageRequest, ApiError> {
        self.page_with(Some(kind))
    }

    /// `limit`, `before`, `after` and `order`, validated.
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        self.page_with(None)
    }

    fn page_with(&self, kind: Option<Kind>) -> Result<PageRequest, ApiError> {
        let mut errors = Vec::new();
        let limit = self.limit(&mut errors);
        let order = match self.get("order") {
            None => Order::Desc,
            Some(o) => Order::parse(o).unwrap_or_else(|| {
                errors.push(FieldError::new("order", "invalid"));
                Order::Desc
            }),
        };
        let before = self.cursor_of("before", kind, &mut errors);
        let after = self.cursor_of("after", kind, &mut errors);
        if before.is_some() && after.is_some() {
            errors.push(FieldError::new("before", "mutually_exclusive_with_after"));
        }
        if errors.is_empty() { Ok(PageRequest { limit, before, after, order }) } else { Err(validation(errors)) }
    }

    /// `limit`: an integer from 1 to 100, default 10.
    pub fn limit(&self, errors: &mut Vec<FieldError>) -> u32 {
        match self.get("limit") {
            None => 10,
            Some(l) => match l.parse::<u32>() {
                Ok(n) if (1..=100).contains(&n) => n,
                _ => {
                    errors.push(FieldError::new("limit", "must_be_between_1_and_100"));
                    10
                }
            },
        }
    }

    /// An object-id cursor; anything that cannot be an id (of `kind`, when given) is refused.
    pub fn cursor_of(&self, key: &str, kind: Option<Kind>, errors: &mut Vec<FieldError>) -> Option<String> {
        let v = self.get(key)?;
        let ok = match kind {
            Some(kind) => vestibule_ids::parse(kind, v, false).is_ok(),
            None => vestibule_ids::is_plausible(v),
        };
        if ok {
            Some(v.to_owned())
        } else {
            errors.push(FieldError::new(key, "invalid_cursor"));
            None
        }
    }
}

/// One path segment, percent-decoded after routing (slugs and external ids may carry
/// encoded `/`, `:` or `@`).
pub struct Segment(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(v) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::Malformed("A path parameter could not be decoded.".into()))?;
        if v.is_empty() || v.len() > 512 {
            return Err(ApiError::RouteNotFound);
        }
        Ok(Segment(v))
    }
}

/// Several path segments, percent-decoded after routing.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(v) = axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::Malformed("A path parameter could not be decoded.".into()))?;
        if parts.uri.path().contains("%00") {
            return Err(ApiError::Malformed("A path parameter contains a NUL character.".into()));
        }
        Ok(Params(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Query {
        Query(form_urlencoded::parse(s.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    #[test]
    fn array_parameters_in_all_three_encodings() {
        assert_eq!(q("events=a,b").list("events"), ["a", "b"]);
        assert_eq!(q("events=a&events=b").list("events"), ["a", "b"]);
        assert_eq!(q("events%5B%5D=a&events[]=b").list("events"), ["a", "b"]);
        assert!(q("events=").list("events").is_empty());
    }

    #[test]
    fn page_parameters_are_validated() {
        assert_eq!(q("limit=").page().unwrap().limit, 10);
        assert!(q("limit=0").page().is_err());
        assert!(q("limit=101").page().is_err());
        assert!(q("limit=ten").page().is_err());
        assert!(q("order=sideways").page().is_err());
        assert!(q("after=org_%27%3B--").page().is_err());
        assert!(q("after=garbage").page_of(Kind::Organization).is_err());
        assert!(q("after=org_acme").page_of(Kind::Organization).is_ok());
        let p = q("limit=5&order=asc&after=org_01ABC").page().unwrap();
        assert_eq!((p.limit, p.order, p.after.as_deref()), (5, Order::Asc, Some("org_01ABC")));
    }

    #[test]
    fn empty_and_form_bodies() {
        assert_eq!(parse_body(b"", false).unwrap(), serde_json::json!({}));
        assert_eq!(parse_body(b"a=1&b=x+y", true).unwrap(), serde_json::json!({"a": "1", "b": "x y"}));
        assert!(parse_body(b"{nope", false).is_err());
    }
}
