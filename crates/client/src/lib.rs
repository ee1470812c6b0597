//! Typed HTTP client for the WorkOS API, as served by Vestibule or by WorkOS itself.
//!
//! One [`Client`] per base URL and API key. Every call goes through [`Client::send`], which
//! retries 408/429/5xx answers and connection failures with bounded exponential backoff and
//! jitter, honours an integer `Retry-After`, and sends one `Idempotency-Key` per POST, the same
//! on every retry, so that a retried create happens once.
#![forbid(unsafe_code)]

mod error;
mod pagination;
mod retry;

pub use error::{ApiError, Error};
pub use pagination::{List, ListMetadata, Paginator};
pub use reqwest::Method;
pub use retry::{RetryPolicy, is_retryable_status, new_idempotency_key};

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::time::Duration;

/// Where the client talks to when nothing else is configured: a local Vestibule.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:4100";

/// The per-attempt timeout when none is configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// An API key. `Debug` never shows it; only the `Authorization` header carries it.
#[derive(Clone)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a secret key (`sk_…`).
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Builds a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: String,
    api_key: Option<ApiKey>,
    timeout: Duration,
    retry: RetryPolicy,
}

impl ClientBuilder {
    /// The API key sent as `Authorization: Bearer`.
    pub fn api_key(mut self, key: ApiKey) -> Self {
        self.api_key = Some(key);
        self
    }

    /// The timeout of each attempt (connect, send and read the whole answer).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Checks the base URL and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        let url_error = |reason: String| Error::Url { url: self.base_url.clone(), reason };
        let base = url::Url::parse(&self.base_url).map_err(|e| url_error(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(url_error("expected an http:// or https:// URL".into()));
        }
        if base.query().is_some() || !base.username().is_empty() || base.password().is_some() {
            return Err(url_error("a base URL takes no query string or credentials".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .user_agent(concat!("vestibule-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| url_error(e.to_string()))?;
        Ok(Client {
            http,
            base: base.as_str().trim_end_matches('/').to_owned(),
            origin: base.origin(),
            api_key: self.api_key,
            timeout: self.timeout,
            retry: self.retry,
        })
    }
}

/// A client for one base URL and API key. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    origin: url::Origin,
    api_key: Option<ApiKey>,
    timeout: Duration,
    retry: RetryPolicy,
}

/// One API call: method, path below the base URL, query, JSON body.
#[derive(Debug, Clone)]
pub struct Request {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    idempotency_key: Option<String>,
}

impl Request {
    /// A call with no query and no body. `path` starts with `/` and may carry a query string.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Request { method, path: path.into(), query: Vec::new(), body: None, idempotency_key: None }
    }

    /// Adds a query parameter (repeat the call for repeated keys).
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// Sets the body to `value` as JSON.
    pub fn json(mut self, value: &impl Serialize) -> Result<Self, Error> {
        self.body = Some(serde_json::to_vec(value)?);
        Ok(self)
    }

    /// Uses this `Idempotency-Key` instead of a fresh one (POST only).
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Whether the query already has `key`.
    pub fn has_query(&self, key: &str) -> bool {
        self.query.iter().any(|(k, _)| k == key)
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// Removes a query parameter and returns its last value.
    fn take_query(&mut self, key: &str) -> Option<String> {
        let last = self.query.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        self.query.retain(|(k, _)| k != key);
        last
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status (2xx).
    pub status: u16,
    /// `X-Request-ID`, when the server sent one.
    pub request_id: Option<String>,
    /// The raw body (empty on 204).
    pub body: Vec<u8>,
}

impl Response {
    /// The body decoded as `T`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| Error::Decode(e.to_string()))
    }

    /// The body as JSON, or `None` when it is empty.
    pub fn value(&self) -> Result<Option<serde_json::Value>, Error> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        self.json().map(Some)
    }
}

/// One attempt's answer, before it is judged a success or an error.
struct Answer {
    status: u16,
    request_id: Option<String>,
    retry_after: Option<u64>,
    body: Vec<u8>,
}

impl Client {
    /// A builder for `base_url` with the default timeout and retry policy.
    pub fn builder(base_url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base_url: base_url.into(),
            api_key: None,
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Sends `request`, retrying per the policy; a non-2xx final answer is [`Error::Api`].
    pub async fn send(&self, request: &Request) -> Result<Response, Error> {
        let url = self.url(request)?;
        let idempotency_key = (request.method == Method::POST)
            .then(|| request.idempotency_key.clone().unwrap_or_else(new_idempotency_key));
        let mut retry = 0;
        loop {
            let outcome = self.attempt(request, &url, idempotency_key.as_deref()).await;
            let wait = match &outcome {
                Ok(a) if is_retryable_status(a.status) => Some(self.retry.delay(retry, a.retry_after)),
                Err(e) if e.is_transient() => Some(self.retry.delay(retry, None)),
                _ => None,
            };
            match wait {
                Some(wait) if retry < self.retry.max_retries => {
                    tracing::debug!(
                        http.method = %request.method, url = %url, retry = retry + 1, wait_ms = wait.as_millis() as u64,
                        "retrying"
                    );
                    tokio::time::sleep(wait).await;
                    retry += 1;
                }
                _ => {
                    let a = outcome?;
                    if (200..300).contains(&a.status) {
                        return Ok(Response { status: a.status, request_id: a.request_id, body: a.body });
                    }
                    return Err(Error::Api(Box::new(ApiError::new(a.status, a.request_id, a.retry_after, &a.body))));
                }
            }
        }
    }

    /// GET `path` with `query`, decoded as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<T, Error> {
        let mut req = Request::new(Method::GET, path);
        for (k, v) in query {
            req = req.query(*k, *v);
        }
        self.send(&req).await?.json()
    }

    /// POST `body` to `path`, decoded as `T`.
    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, Error> {
        self.send(&Request::new(Method::POST, path).json(body)?).await?.json()
    }

    /// PUT `body` to `path`, decoded as `T`.
    pub async fn put<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, Error> {
        self.send(&Request::new(Method::PUT, path).json(body)?).await?.json()
    }

    /// DELETE `path`.
    pub async fn delete(&self, path: &str) -> Result<(), Error> {
        self.send(&Request::new(Method::DELETE, path)).await.map(drop)
    }

    /// Walks the list that `request` (a GET) returns, page by page.
    pub fn paginate<T: DeserializeOwned>(&self, request: Request) -> Paginator<T> {
        Paginator::new(self.clone(), request)
    }

    /// Downloads `url` into `out`, returning the bytes written. The API key is sent only when
    /// `url` has the base URL's origin (export links elsewhere are pre-signed).
    pub async fn download(&self, url: &str, out: &mut (impl std::io::Write + ?Sized)) -> Result<u64, Error> {
        let parsed = url::Url::parse(url).map_err(|e| Error::Url { url: url.to_owned(), reason: e.to_string() })?;
        let mut req = self.http.get(parsed.clone());
        if parsed.origin() == self.origin
            && let Some(key) = &self.api_key
        {
            req = req.bearer_auth(&key.0);
        }
        let mut resp = req.send().await.map_err(|e| Error::from_reqwest(&e, url, self.timeout))?;
        if !resp.status().is_success() {
            let (status, request_id) = (resp.status().as_u16(), header(&resp, "x-request-id"));
            let body = resp.bytes().await.unwrap_or_default();
            return Err(Error::Api(Box::new(ApiError::new(status, request_id, None, &body))));
        }
        let mut written = 0u64;
        while let Some(chunk) = resp.chunk().await.map_err(|e| Error::from_reqwest(&e, url, self.timeout))? {
            out.write_all(&chunk)?;
            written += chunk.len() as u64;
        }
        out.flush()?;
        Ok(written)
    }

    fn url(&self, request: &Request) -> Result<url::Url, Error> {
        let path = if request.path.starts_with('/') { request.path.clone() } else { format!("/{}", request.path) };
        let raw = format!("{}{path}", self.base);
        let mut url = url::Url::parse(&raw).map_err(|e| Error::Url { url: raw.clone(), reason: e.to_string() })?;
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&request.query);
        }
        Ok(url)
    }

    async fn attempt(&self, request: &Request, url: &url::Url, idempotency_key: Option<&str>) -> Result<Answer, Error> {
        let mut req = self.http.request(request.method.clone(), url.clone()).header("accept", "application/json");
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(&key.0);
        }
        if let Some(key) = idempotency_key {
            req = req.header("idempotency-key", key);
        }
        if let Some(body) = &request.body {
            req = req.header("content-type", "application/json").body(body.clone());
        }
        let fail = |e: reqwest::Error| Error::from_reqwest(&e, url.as_str(), self.timeout);
        let resp = req.send().await.map_err(fail)?;
        let status = resp.status().as_u16();
        let request_id = header(&resp, "x-request-id");
        let retry_after = header(&resp, "retry-after").and_then(|v| v.trim().parse().ok());
        let body = resp.bytes().await.map_err(fail)?.to_vec();
        Ok(Answer { status, request_id, retry_after, body })
    }
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_paths_without_double_slashes_and_encodes_queries() {
        let c = Client::builder("http://127.0.0.1:4100/").build().unwrap();
        let req = Request::new(Method::GET, "/organizations").query("search", "a b&c");
        assert_eq!(c.url(&req).unwrap().as_str(), "http://127.0.0.1:4100/organizations?search=a+b%26c");
    }

    #[test]
    fn rejects_unusable_base_urls() {
        for bad in ["127.0.0.1:4100", "ftp://x", "http://u:p@x", "not a url"] {
            assert!(Client::builder(bad).build().is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let c = Client::builder(DEFAULT_BASE_URL).api_key(ApiKey::new("sk_test_secret")).build().unwrap();
        assert!(!format!("{c:?}").contains("sk_test_secret"));
    }
}
