//! The browser-, application- and IdP-facing SSO endpoints, outside the API key: their
//! credentials are the code, the access token, the client secret in the body, or the
//! IdP's signature. `GET /sso/authorize`, the SAML ACS and SP metadata, the OIDC
//! callback, `POST /sso/token` (OAuth 2.0 errors, RFC 6749), `GET /sso/profile`, the
//! JWKS and `GET /sso/logout`.

pub(crate) mod oauth;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Query, Segment, parse_body};
use crate::respond::ok;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use oauth::OAuthError;
use serde_json::{Map, Value, json};
use vestibule_core::sso::flow::{AuthorizeParams, Redirect};

/// The public SSO routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sso/authorize", get(authorize))
        .route("/sso/token", post(token))
        .route("/sso/profile", get(profile))
        .route("/sso/logout", get(logout))
        .route("/sso/jwks/{client_id}", get(jwks))
        .route("/sso/saml/acs/{key}", post(saml_acs))
        .route("/sso/saml/metadata/{key}", get(saml_metadata))
        .route("/sso/oidc/{key}/callback", get(oidc_callback))
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
    let body = axum::body::to_bytes(req.into_body(), vestibule_core::sso::flow::MAX_ACS_BODY_BYTES)
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

/// `POST /sso/token`: fields from the query string, a JSON body or a form body.
pub async fn token(State(s): State<AppState>, q: Query, req: Request) -> Response {
    let fields = match grant_fields(&q, req, s.config.max_body_bytes).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    match s.app.exchange_sso_code(&fields).await {
        Ok(v) => ok(v),
        Err(e) => OAuthError(e).into_response(),
    }
}

/// The fields of an OAuth token request: the query string, then a JSON or form body
/// (the SDKs send either); an unreadable body is an OAuth `invalid_request`.
pub(crate) async fn grant_fields(q: &Query, req: Request, limit: usize) -> Result<Map<String, Value>, Response> {
    let form = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let bytes = match axum::body::to_bytes(req.into_body(), limit).await {
        Ok(b) => b,
        Err(_) => return Err(ApiError::PayloadTooLarge.into_response()),
    };
    let mut fields: Map<String, Value> = q.0.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    match parse_body(&bytes, form) {
        Ok(Value::Object(body)) => fields.extend(body),
        _ => return Err(OAuthError::invalid_request("The request body could not be read.").into_response()),
    }
    Ok(fields)
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
        None => Err(ApiError::ProfileUnauthorized),
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

/// `GET /sso/logout?token=…`: a 302 to the default redirect URI, or 200 when none is registered.
pub async fn logout(State(s): State<AppState>, q: Query) -> ApiResult<Response> {
    match s.app.sso_logout(q.get("token").unwrap_or_default()).await? {
        Some(Redirect::To(url)) => Ok(found(&url)),
        None => Ok(ok(json!({"message": "Signed out."}))),
    }
}
