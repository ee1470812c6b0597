//! `sso` and `connections` tags, the connection-management extensions, and the
//! IdP-facing endpoints (SAML ACS and SP metadata) under the same origin.

use super::{created, list, no_content, ok};
use crate::error::{ApiError, ApiResult};
use crate::extract::{parse_body, Body, Query, Segment};
use crate::middleware::Env;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use vestibule_core::sso::ConnectionFilter;
use vestibule_core::sso_flow::{AuthorizeParams, Redirect};
use vestibule_ids::Kind;

/// `GET /connections`
pub async fn list_connections(State(s): State<AppState>, env: Env, q: Query) -> ApiResult<Response> {
    let page = q.page_of(Kind::Connection)?;
    let filter = ConnectionFilter {
        organization_id: q.get("organization_id").map(str::to_owned),
        organization_ids: None,
        connection_type: q.get("connection_type").map(str::to_owned),
    };
    Ok(list(s.app.list_connections(env.id(), filter, q.get("domain").map(str::to_owned), page).await?))
}

/// `POST /connections` (extension)
pub async fn create_connection(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_connection(env.id(), &body).await?))
}

/// `GET /connections/{id}`
pub async fn get_connection(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.get_connection(env.id(), &id).await?))
}

/// `PATCH /connections/{id}` (extension)
pub async fn update_connection(State(s): State<AppState>, env: Env, Segment(id): Segment, Body(body): Body) -> ApiResult<Response> {
    Ok(ok(s.app.update_connection(env.id(), &id, &body).await?))
}

/// `DELETE /connections/{id}`
pub async fn delete_connection(State(s): State<AppState>, env: Env, Segment(id): Segment) -> ApiResult<Response> {
    s.app.delete_connection(env.id(), &id).await?;
    Ok(no_content())
}

/// `GET /connections/{id}/login_attempts` (extension)
pub async fn list_login_attempts(State(s): State<AppState>, env: Env, Segment(id): Segment, q: Query) -> ApiResult<Response> {
    Ok(list(s.app.list_login_attempts(env.id(), &id, q.page_of(Kind::LoginAttempt)?).await?))
}

/// `POST /user_management/redirect_uris`
pub async fn create_redirect_uri(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(created(s.app.create_redirect_uri(env.id(), &body).await?))
}

/// `GET /user_management/redirect_uris` (extension)
pub async fn list_redirect_uris(State(s): State<AppState>, env: Env) -> ApiResult<Response> {
    let data = s.app.list_redirect_uris(env.id()).await?;
    Ok(ok(json!({"object": "list", "data": data, "list_metadata": {"before": null, "after": null}})))
}

fn found(location: &str) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

/// `GET /sso/authorize`: a 302 to the IdP (or back to the application with an error).
pub async fn authorize(State(s): State<AppState>, q: Query) -> ApiResult<Response> {
    let get = |k: &str| q.get(k).map(str::to_owned);
    let p = AuthorizeParams {
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        response_type: get("response_type"),
        state: get("state"),
        connection: get("connection"),
        organization: get("organization"),
        provider: get("provider"),
        domain: get("domain"),
        login_hint: get("login_hint"),
        domain_hint: get("domain_hint"),
        prompt: get("prompt"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
    };
    let Redirect::To(url) = s.app.authorize_sso(p).await?;
    Ok(found(&url))
}

/// `POST /sso/saml/acs/{external_key}`: the HTTP-POST binding. The body is a form with
/// `SAMLResponse` (and `RelayState`, which we do not need: InResponseTo names the request).
pub async fn saml_acs(State(s): State<AppState>, Segment(key): Segment, req: Request) -> ApiResult<Response> {
    let body = axum::body::to_bytes(req.into_body(), vestibule_core::sso_flow::MAX_ACS_BODY_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    let mut response = None;
    for (k, v) in form_urlencoded::parse(&body) {
        if k == "SAMLResponse" {
            response = Some(v.into_owned());
        }
    }
    let Some(response) = response else {
        return Err(ApiError::Malformed("SAMLResponse is required.".into()));
    };
    let Redirect::To(url) = s.app.consume_saml_response(&key, &response).await?;
    Ok(found(&url))
}

/// `GET /sso/saml/metadata/{external_key}`: our SP metadata for one connection.
pub async fn saml_metadata(State(s): State<AppState>, Segment(key): Segment) -> ApiResult<Response> {
    let xml = s.app.sp_metadata(&key).await?;
    Ok(([(CONTENT_TYPE, "application/samlmetadata+xml")], xml).into_response())
}

fn token_error(error: &str, description: &str) -> Response {
    let status = if error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else if error == "server_error" {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::BAD_REQUEST
    };
    (status, axum::Json(json!({"error": error, "error_description": description}))).into_response()
}

/// `POST /sso/token`: fields from the query string, a JSON body or a form body.
pub async fn token(State(s): State<AppState>, q: Query, req: Request) -> Response {
    let form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let limit = s.config.max_body_bytes;
    let bytes = match axum::body::to_bytes(req.into_body(), limit).await {
        Ok(b) => b,
        Err(_) => return ApiError::PayloadTooLarge.into_response(),
    };
    let mut fields: Map<String, Value> = q.0.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    match parse_body(&bytes, form) {
        Ok(Value::Object(body)) => fields.extend(body),
        _ => return token_error("invalid_request", "The request body could not be read."),
    }
    match s.app.exchange_sso_code(&fields).await {
        Ok(v) => ok(v),
        Err(e) => token_error(e.error, &e.description),
    }
}

/// `GET /sso/profile` with `Authorization: Bearer <access_token>`.
pub async fn profile(State(s): State<AppState>, req: Request) -> ApiResult<Response> {
    let token = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .unwrap_or_default();
    match s.app.get_sso_profile(token).await? {
        Some(p) => Ok(ok(p)),
        None => Err(ApiError::Unauthorized),
    }
}

/// `GET /sso/jwks/{client_id}`: the public keys that verify the environment's access
/// tokens. Public, like WorkOS's: the SDKs fetch it without credentials.
pub async fn jwks(State(s): State<AppState>, Segment(client_id): Segment) -> ApiResult<Response> {
    Ok(ok(s.app.jwks(&client_id).await?))
}

/// `GET /sso/oidc/{external_key}/callback`: the OIDC provider's redirect back.
pub async fn oidc_callback(State(s): State<AppState>, Segment(key): Segment, q: Query) -> ApiResult<Response> {
    let params: Map<String, Value> = q.0.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let Redirect::To(url) = s.app.consume_oidc_callback(&key, &params).await?;
    Ok(found(&url))
}

/// `POST /sso/logout/authorize`
pub async fn authorize_logout(State(s): State<AppState>, env: Env, Body(body): Body) -> ApiResult<Response> {
    Ok(ok(s.app.authorize_sso_logout(env.id(), &body).await?))
}

/// `GET /sso/logout?token=…`: a 302 to the default redirect URI, or 200 when none is registered.
pub async fn logout(State(s): State<AppState>, q: Query) -> ApiResult<Response> {
    match s.app.sso_logout(q.get("token").unwrap_or_default()).await? {
        Some(Redirect::To(url)) => Ok(found(&url)),
        None => Ok(ok(json!({"message": "Signed out."}))),
    }
}
