//! How a SCIM request is authenticated (the directory's bearer token, never an API key)
//! and read: the directory, the body, the query and the path's resource id, each
//! rejecting with a SCIM error body.

use super::MAX_BODY_BYTES;
use super::error::{ScimFailure, failure};
use crate::middleware::reject;
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use vestibule_core::directory_sync::{DirectoryCredentials, SCIM_PATH};
use vestibule_core::kernel::fields::nul_path;

/// Resolves the directory from the key in the path and the bearer token, or answers 401
/// without saying which of the two was wrong.
pub async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let key = req
        .uri()
        .path()
        .strip_prefix(SCIM_PATH)
        .and_then(|p| p.strip_prefix('/'))
        .map(|p| p.split('/').next().unwrap_or("").to_owned())
        .unwrap_or_default();
    let token = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_owned());
    let unauthorized =
        || failure(401, None, "The bearer token is missing or not valid for this directory.").into_response();
    let Some(token) = token else {
        return drain_then(req, unauthorized()).await;
    };
    match state.app.authenticate_scim(&key, &token).await {
        Ok(Some(creds)) => {
            req.extensions_mut().insert(creds);
            next.run(req).await
        }
        Ok(None) => drain_then(req, unauthorized()).await,
        Err(e) => drain_then(req, ScimFailure::from(e).into_response()).await,
    }
}

async fn drain_then(req: Request, resp: Response) -> Response {
    let (parts, body) = resp.into_parts();
    let fallback = reject(req, MAX_BODY_BYTES, crate::error::ApiError::Unauthorized).await;
    // Keep our SCIM body; take over `Connection: close` when the request body was not drained.
    let mut r = Response::from_parts(parts, body);
    if let Some(c) = fallback.headers().get("connection") {
        r.headers_mut().insert("connection", c.clone());
    }
    r
}

/// The directory a SCIM request was authenticated for.
pub struct Directory(pub DirectoryCredentials);

impl<S: Send + Sync> FromRequestParts<S> for Directory {
    type Rejection = ScimFailure;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<DirectoryCredentials>()
            .cloned()
            .map(Directory)
            .ok_or_else(|| failure(401, None, "Not authenticated."))
    }
}

/// A SCIM request body: JSON (`application/scim+json` or `application/json`), at most
/// [`MAX_BODY_BYTES`].
pub struct ScimBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = ScimFailure;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                failure(413, None, &format!("The request body is larger than {MAX_BODY_BYTES} bytes."))
            } else {
                failure(400, Some("invalidSyntax"), "The request body could not be read.")
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(ScimBody(json!({})));
        }
        let body: Value = serde_json::from_slice(&bytes)
            .map_err(|e| failure(400, Some("invalidSyntax"), &format!("The request body is not valid JSON: {e}.")))?;
        match nul_path(&body) {
            None => Ok(ScimBody(body)),
            Some(path) => Err(failure(400, Some("invalidValue"), &format!("{path} contains a NUL character."))),
        }
    }
}

/// The SCIM query parameters of a list or read.
pub struct ScimQuery(pub(crate) Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for ScimQuery {
    type Rejection = ScimFailure;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        if q.len() > 8192 {
            return Err(failure(400, Some("invalidValue"), "The query string is too long."));
        }
        let pairs: Vec<(String, String)> =
            form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        if pairs.iter().any(|(k, v)| k.contains('\0') || v.contains('\0')) {
            return Err(failure(400, Some("invalidValue"), "A query parameter contains a NUL character."));
        }
        Ok(ScimQuery(pairs))
    }
}

/// The resource id of `…/{key}/Users/{id}` (and of `Groups`, `ResourceTypes`, `Schemas`);
/// a path that does not decode is a SCIM 400, not axum's plain text.
pub struct ResourceId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ResourceId {
    type Rejection = ScimFailure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path((_, id)) = axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| failure(400, Some("invalidPath"), "The resource path could not be read."))?;
        if id.contains('\0') {
            return Err(failure(400, Some("invalidPath"), "The resource id contains a NUL character."));
        }
        Ok(ResourceId(id))
    }
}
