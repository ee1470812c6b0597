//! The SCIM 2.0 endpoint identity providers provision into, one per directory, at
//! `/scim/v2.0/{external_key}`. It is authenticated by the directory's own bearer token
//! (never an API key) and speaks `application/scim+json`, with RFC 7644 error bodies.

use crate::middleware::reject;
use crate::state::AppState;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use bytes::Bytes;
use serde_json::{json, Value};
use vestibule_core::directories::{DirectoryCredentials, SCIM_PATH};
use vestibule_core::scim::{self, Cond, Projection};
use vestibule_core::CoreError;
use vestibule_scim::ScimError;

/// Largest SCIM request body: a group PATCH adding a few thousand members fits.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A SCIM failure, answered as an RFC 7644 §3.12 error body.
#[derive(Debug)]
pub struct ScimFailure(pub ScimError);

impl From<CoreError> for ScimFailure {
    fn from(e: CoreError) -> Self {
        let err = |status: u16, scim_type: Option<&'static str>, detail: String| ScimFailure(ScimError { status, scim_type, detail });
        match e {
            CoreError::Scim(e) => ScimFailure(e),
            CoreError::NotFound { entity, id } => err(404, None, format!("{entity} '{id}' not found.")),
            CoreError::Validation(errors) => {
                let fields: Vec<String> = errors.iter().map(|f| format!("{}: {}", f.field, f.code)).collect();
                err(400, Some("invalidValue"), fields.join("; "))
            }
            CoreError::Conflict { message, .. } => err(409, None, message),
            CoreError::Store(e) => {
                tracing::error!(error = %e, "store failure");
                err(500, None, "Something went wrong on our side.".into())
            }
            other => err(400, Some("invalidValue"), other.to_string()),
        }
    }
}

impl From<ScimError> for ScimFailure {
    fn from(e: ScimError) -> Self {
        ScimFailure(e)
    }
}

/// A SCIM JSON response.
fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/scim+json"));
    r
}

impl IntoResponse for ScimFailure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut body = json!({"schemas": [vestibule_scim::ERROR], "status": self.0.status.to_string(), "detail": self.0.detail});
        if let Some(t) = self.0.scim_type {
            body["scimType"] = json!(t);
        }
        let mut r = scim_json(status, &body);
        if status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert("www-authenticate", HeaderValue::from_static("Bearer realm=\"SCIM\""));
        }
        r
    }
}

type ScimResult = Result<Response, ScimFailure>;

fn failure(status: u16, scim_type: Option<&'static str>, detail: &str) -> ScimFailure {
    ScimFailure(ScimError { status, scim_type, detail: detail.into() })
}

/// Every SCIM route of the server.
pub fn router(state: AppState) -> Router<AppState> {
    let base = format!("{SCIM_PATH}/{{key}}");
    Router::new()
        .route(&format!("{base}/Users"), get(list_users).post(create_user))
        .route(&format!("{base}/Users/.search"), post(search_users))
        .route(&format!("{base}/Users/{{id}}"), get(get_user).put(replace_user).patch(patch_user).delete(delete_user))
        .route(&format!("{base}/Groups"), get(list_groups).post(create_group))
        .route(&format!("{base}/Groups/.search"), post(search_groups))
        .route(&format!("{base}/Groups/{{id}}"), get(get_group).put(replace_group).patch(patch_group).delete(delete_group))
        .route(&format!("{base}/ServiceProviderConfig"), get(service_provider_config))
        .route(&format!("{base}/ResourceTypes"), get(resource_types))
        .route(&format!("{base}/ResourceTypes/{{id}}"), get(resource_type))
        .route(&format!("{base}/Schemas"), get(schemas))
        .route(&format!("{base}/Schemas/{{id}}"), get(schema))
        .route(&format!("{base}/.search"), post(search_all))
        .route(&format!("{base}/{{*rest}}"), any(unknown))
        .route(&base, any(unknown))
        .route_layer(axum::middleware::from_fn_with_state(state, authenticate))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

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
    let unauthorized = || failure(401, None, "The bearer token is missing or not valid for this directory.").into_response();
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
        serde_json::from_slice(&bytes)
            .map(ScimBody)
            .map_err(|e| failure(400, Some("invalidSyntax"), &format!("The request body is not valid JSON: {e}.")))
    }
}

/// The SCIM query parameters of a list or read.
pub struct ScimQuery(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for ScimQuery {
    type Rejection = ScimFailure;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        if q.len() > 8192 {
            return Err(failure(400, Some("invalidValue"), "The query string is too long."));
        }
        Ok(ScimQuery(form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()))
    }
}

impl ScimQuery {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, v)| k.eq_ignore_ascii_case(key) && !v.is_empty()).map(|(_, v)| v.as_str())
    }
}

/// What a list or search asks for.
struct ListRequest {
    filter: Option<String>,
    start_index: u64,
    count: u64,
    projection: Projection,
}

fn number(v: Option<&Value>, name: &str, default: u64) -> Result<u64, ScimFailure> {
    match v {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => Ok(n.as_i64().unwrap_or(0).max(0) as u64),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(|n| n.max(0) as u64)
            .map_err(|_| failure(400, Some("invalidValue"), &format!("{name} must be an integer."))),
        Some(_) => Err(failure(400, Some("invalidValue"), &format!("{name} must be an integer."))),
    }
}

impl ListRequest {
    fn from_query(q: &ScimQuery) -> Result<Self, ScimFailure> {
        let s = |k: &str| q.get(k).map(|v| Value::String(v.to_owned()));
        Ok(ListRequest {
            filter: q.get("filter").map(str::to_owned),
            start_index: number(s("startIndex").as_ref(), "startIndex", 1)?.max(1),
            count: number(s("count").as_ref(), "count", scim::MAX_COUNT)?,
            projection: Projection::parse(q.get("attributes"), q.get("excludedAttributes"))?,
        })
    }

    fn from_body(b: &Value) -> Result<Self, ScimFailure> {
        let get = |k: &str| vestibule_scim::filter::get_ci(b, k);
        let list = |k: &str| -> Option<String> {
            match get(k)? {
                Value::Array(a) => Some(a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")),
                Value::String(s) => Some(s.clone()),
                _ => None,
            }
        };
        Ok(ListRequest {
            filter: get("filter").and_then(Value::as_str).map(str::to_owned),
            start_index: number(get("startIndex"), "startIndex", 1)?.max(1),
            count: number(get("count"), "count", scim::MAX_COUNT)?,
            projection: Projection::parse(list("attributes").as_deref(), list("excludedAttributes").as_deref())?,
        })
    }

    fn cond(&self, group: bool) -> Result<Cond, ScimFailure> {
        Ok(scim::parse_filter(self.filter.as_deref(), group)?)
    }
}

fn project_list(mut list: Value, p: &Projection) -> Value {
    if let Some(Value::Array(items)) = list.get_mut("Resources") {
        for item in items.iter_mut() {
            *item = p.apply(std::mem::take(item));
        }
    }
    list
}

fn created_at(resource: Value) -> Response {
    let mut r = scim_json(StatusCode::CREATED, &resource);
    if let Some(loc) = resource.pointer("/meta/location").and_then(Value::as_str)
        && let Ok(v) = HeaderValue::from_str(loc)
    {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

fn single(q: &ScimQuery, resource: Value) -> ScimResult {
    let p = Projection::parse(q.get("attributes"), q.get("excludedAttributes"))?;
    Ok(scim_json(StatusCode::OK, &p.apply(resource)))
}

async fn list_users(State(s): State<AppState>, Directory(c): Directory, q: ScimQuery) -> ScimResult {
    let r = ListRequest::from_query(&q)?;
    let list = s.app.scim_list_users(&c, &r.cond(false)?, r.start_index, r.count).await?;
    Ok(scim_json(StatusCode::OK, &project_list(list, &r.projection)))
}

async fn search_users(State(s): State<AppState>, Directory(c): Directory, ScimBody(b): ScimBody) -> ScimResult {
    let r = ListRequest::from_body(&b)?;
    let list = s.app.scim_list_users(&c, &r.cond(false)?, r.start_index, r.count).await?;
    Ok(scim_json(StatusCode::OK, &project_list(list, &r.projection)))
}

async fn create_user(State(s): State<AppState>, Directory(c): Directory, ScimBody(b): ScimBody) -> ScimResult {
    Ok(created_at(s.app.scim_create_user(&c, &b).await?))
}

async fn get_user(State(s): State<AppState>, Directory(c): Directory, axum::extract::Path((_, id)): axum::extract::Path<(String, String)>, q: ScimQuery) -> ScimResult {
    single(&q, s.app.scim_get_user(&c, &id).await?)
}

async fn replace_user(State(s): State<AppState>, Directory(c): Directory, axum::extract::Path((_, id)): axum::extract::Path<(String, String)>, q: ScimQuery, ScimBody(b): ScimBody) -> ScimResult {
    single(&q, s.app.scim_replace_user(&c, &id, &b).await?)
}

async fn patch_user(State(s): State<AppState>, Directory(c): Directory, axum::extract::Path((_, id)): axum::extract::Path<(String, String)>, q: ScimQuery, ScimBody(b): ScimBody) -> ScimResult {
    single(&q, s.app.scim_patch_user(&c, &id, &b).await?)
}

async fn delete_user(State(s): State<AppState>, Directory(c): Directory, axum::extract::Path((_, id)): axum::extract::Path<(String, String)>) -> ScimResult {
    s.app.scim_delete_user(&c, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn wants_members(p: &Projection) -> bool {
    let named = |list: &[vestibule_scim::filter::AttrPath]| list.iter().any(|a| a.is_core() && a.is("members"));
    !named(&p.excluded) && (p.attributes.is_empty() || named(&p.attributes))
}

async fn list_groups(State(s): State<AppState>, Directory(c): Directory, q: ScimQuery) -> ScimResult {
    let r = ListRequest::from_query(&q)?;
    let list = s.app.scim_list_groups(&c, &r.cond(true)?, r.start_index, r.count, wants_members(&r.projection)).await?;
    Ok(scim_json(StatusCode::OK, &project_list(list, &r.projection)))
}

async fn search_groups(State(s): State<AppState>, Directory(c): Directory, ScimBody(b): ScimBody) -> ScimResult {
    let r = ListRequest::from_body(&b)?;
    let list = s.app.scim_list_groups(&c, &r.cond(true)?, r.start_index, r.count, wants_members(&r.projection)).await?;
    Ok(scim_json(StatusCode::OK, &project_list(list, &r.projection)))
}

async fn create_group(State(s): State<AppState>, Directory(c): Directory, ScimBody(b): ScimBody) -> ScimResult {
    Ok(created_at(s.app.scim_create_group(&c, &b).await?))
}

async fn get_group(State(s): State<AppState>, Directory(c): Directory, axum::extract::Path((_, id)): axum::extract::Path<(String, String)>, q: ScimQuery) -> ScimResult {
    single(&q, s.app.scim_get_group(&c, &id).await?)
}

async fn replace_group(State(s): State<AppState>, Directory(c): Directory, axum::extract::Path((_, id)): axum::extract::Path<(String, String)>, q: ScimQuery, ScimBody(b): ScimBody) -> ScimResult {
    single(&q, s.app.scim_replace_group(&c, &id, &b).await?)
}

async fn patch_group(State(s): State<AppState>, Directory(c): Directory, axum::extract::Path((_, id)): axum::extract::Path<(String, String)>, q: ScimQuery, ScimBody(b): ScimBody) -> ScimResult {
    single(&q, s.app.scim_patch_group(&c, &id, &b).await?)
}

async fn delete_group(State(s): State<AppState>, Directory(c): Directory, axum::extract::Path((_, id)): axum::extract::Path<(String, String)>) -> ScimResult {
    s.app.scim_delete_group(&c, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Makes discovery documents' relative locations absolute.
fn locate(mut v: Value, base: &str) -> Value {
    if let Some(loc) = v.pointer_mut("/meta/location")
        && let Some(s) = loc.as_str()
        && s.starts_with('/')
    {
        *loc = Value::String(format!("{base}{s}"));
    }
    v
}

async fn service_provider_config(State(s): State<AppState>, Directory(c): Directory) -> ScimResult {
    Ok(scim_json(StatusCode::OK, &locate(scim::service_provider_config(), &s.app.scim_base(&c))))
}

async fn resource_types(State(s): State<AppState>, Directory(c): Directory) -> ScimResult {
    let base = s.app.scim_base(&c);
    let all: Vec<Value> = scim::resource_types().into_iter().map(|r| locate(r, &base)).collect();
    Ok(scim_json(StatusCode::OK, &scim::list_response(all.len() as u64, 1, all)))
}

async fn resource_type(State(s): State<AppState>, Directory(c): Directory, axum::extract::Path((_, id)): axum::extract::Path<(String, String)>) -> ScimResult {
    let base = s.app.scim_base(&c);
    scim::resource_types()
        .into_iter()
        .find(|r| r["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(&id)))
        .map(|r| scim_json(StatusCode::OK, &locate(r, &base)))
        .ok_or_else(|| failure(404, None, &format!("Resource type '{id}' not found.")))
}

async fn schemas(State(s): State<AppState>, Directory(c): Directory) -> ScimResult {
    let base = s.app.scim_base(&c);
    let all: Vec<Value> = scim::schemas().into_iter().map(|r| locate(r, &base)).collect();
    Ok(scim_json(StatusCode::OK, &scim::list_response(all.len() as u64, 1, all)))
}

async fn schema(State(s): State<AppState>, Directory(c): Directory, axum::extract::Path((_, id)): axum::extract::Path<(String, String)>) -> ScimResult {
    let base = s.app.scim_base(&c);
    scim::schemas()
        .into_iter()
        .find(|r| r["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(&id)))
        .map(|r| scim_json(StatusCode::OK, &locate(r, &base)))
        .ok_or_else(|| failure(404, None, &format!("Schema '{id}' not found.")))
}

async fn search_all(State(s): State<AppState>, Directory(c): Directory, ScimBody(b): ScimBody) -> ScimResult {
    let r = ListRequest::from_body(&b)?;
    let (users, groups) = (r.cond(false), r.cond(true));
    if let (Err(e), Err(_)) = (&users, &groups) {
        return Err(ScimFailure(e.0.clone()));
    }
    let list = s.app.scim_search_all(&c, users.as_ref().ok(), groups.as_ref().ok(), r.start_index, r.count, wants_members(&r.projection)).await?;
    Ok(scim_json(StatusCode::OK, &project_list(list, &r.projection)))
}

async fn unknown(Directory(_): Directory) -> ScimResult {
    Err(failure(404, None, "No such SCIM endpoint."))
}
