//! The SCIM 2.0 endpoint identity providers provision into, one per directory, at
//! `/scim/v2.0/{external_key}`. It is authenticated by the directory's own bearer token
//! (never an API key) and speaks `application/scim+json`, with RFC 7644 error bodies.

mod error;
mod extract;

pub use error::ScimFailure;
pub use extract::authenticate;

use crate::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use error::{ScimResult, failure, scim_json};
use extract::{Directory, ResourceId, ScimBody, ScimQuery};
use serde_json::Value;
use vestibule_core::directory_sync::SCIM_PATH;
use vestibule_core::directory_sync::scim::{self, Cond, Projection};

/// Largest SCIM request body: a group PATCH adding a few thousand members fits.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Every SCIM route of the server.
pub fn router(state: AppState) -> Router<AppState> {
    let base = format!("{SCIM_PATH}/{{key}}");
    Router::new()
        .route(&format!("{base}/Users"), get(list_users).post(create_user))
        .route(&format!("{base}/Users/.search"), post(search_users))
        .route(&format!("{base}/Users/{{id}}"), get(get_user).put(replace_user).patch(patch_user).delete(delete_user))
        .route(&format!("{base}/Groups"), get(list_groups).post(create_group))
        .route(&format!("{base}/Groups/.search"), post(search_groups))
        .route(
            &format!("{base}/Groups/{{id}}"),
            get(get_group).put(replace_group).patch(patch_group).delete(delete_group),
        )
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

async fn get_user(
    State(s): State<AppState>, Directory(c): Directory, ResourceId(id): ResourceId, q: ScimQuery,
) -> ScimResult {
    single(&q, s.app.scim_get_user(&c, &id).await?)
}

async fn replace_user(
    State(s): State<AppState>, Directory(c): Directory, ResourceId(id): ResourceId, q: ScimQuery, ScimBody(b): ScimBody,
) -> ScimResult {
    single(&q, s.app.scim_replace_user(&c, &id, &b).await?)
}

async fn patch_user(
    State(s): State<AppState>, Directory(c): Directory, ResourceId(id): ResourceId, q: ScimQuery, ScimBody(b): ScimBody,
) -> ScimResult {
    single(&q, s.app.scim_patch_user(&c, &id, &b).await?)
}

async fn delete_user(State(s): State<AppState>, Directory(c): Directory, ResourceId(id): ResourceId) -> ScimResult {
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

async fn get_group(
    State(s): State<AppState>, Directory(c): Directory, ResourceId(id): ResourceId, q: ScimQuery,
) -> ScimResult {
    single(&q, s.app.scim_get_group(&c, &id).await?)
}

async fn replace_group(
    State(s): State<AppState>, Directory(c): Directory, ResourceId(id): ResourceId, q: ScimQuery, ScimBody(b): ScimBody,
) -> ScimResult {
    single(&q, s.app.scim_replace_group(&c, &id, &b).await?)
}

async fn patch_group(
    State(s): State<AppState>, Directory(c): Directory, ResourceId(id): ResourceId, q: ScimQuery, ScimBody(b): ScimBody,
) -> ScimResult {
    single(&q, s.app.scim_patch_group(&c, &id, &b).await?)
}

async fn delete_group(State(s): State<AppState>, Directory(c): Directory, ResourceId(id): ResourceId) -> ScimResult {
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
    let all: Vec<Value> = vestibule_scim::discovery::resource_types().into_iter().map(|r| locate(r, &base)).collect();
    Ok(scim_json(StatusCode::OK, &scim::list_response(all.len() as u64, 1, all)))
}

async fn resource_type(State(s): State<AppState>, Directory(c): Directory, ResourceId(id): ResourceId) -> ScimResult {
    let base = s.app.scim_base(&c);
    vestibule_scim::discovery::resource_types()
        .into_iter()
        .find(|r| r["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(&id)))
        .map(|r| scim_json(StatusCode::OK, &locate(r, &base)))
        .ok_or_else(|| failure(404, None, &format!("Resource type '{id}' not found.")))
}

async fn schemas(State(s): State<AppState>, Directory(c): Directory) -> ScimResult {
    let base = s.app.scim_base(&c);
    let all: Vec<Value> = vestibule_scim::discovery::schemas().into_iter().map(|r| locate(r, &base)).collect();
    Ok(scim_json(StatusCode::OK, &scim::list_response(all.len() as u64, 1, all)))
}

async fn schema(State(s): State<AppState>, Directory(c): Directory, ResourceId(id): ResourceId) -> ScimResult {
    let base = s.app.scim_base(&c);
    vestibule_scim::discovery::schemas()
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
    let list = s
        .app
        .scim_search_all(
            &c,
            users.as_ref().ok(),
            groups.as_ref().ok(),
            r.start_index,
            r.count,
            wants_members(&r.projection),
        )
        .await?;
    Ok(scim_json(StatusCode::OK, &project_list(list, &r.projection)))
}

async fn unknown(Directory(_): Directory) -> ScimResult {
    Err(failure(404, None, "No such SCIM endpoint."))
}
