//! Outbound HTTP to OpenID Connect providers (discovery, token, JWKS, userinfo): one
//! reqwest client that never follows redirects (a redirect from a provider endpoint is
//! an error, not a new target) and gives up after ten seconds.

use async_trait::async_trait;
use serde_json::Value;
use std::time::Duration;
use vestibule_core::sso_oidc::OidcHttp;

/// The reqwest implementation of the OIDC port.
pub struct ReqwestOidcHttp {
    client: reqwest::Client,
}

impl ReqwestOidcHttp {
    /// A client with no redirects, a timeout, and a response size bound.
    pub fn new() -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .user_agent("vestibule-oidc")
            .build()?;
        Ok(Self { client })
    }
}

/// Largest provider answer read (discovery documents and JWKS are a few KiB).
const MAX_BYTES: usize = 1024 * 1024;

async fn json_of(resp: reqwest::Response) -> Result<Value, String> {
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
    if bytes.len() > MAX_BYTES {
        return Err("answer too large".into());
    }
    if !status.is_success() {
        let error = serde_json::from_slice::<Value>(&bytes).ok().and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
        return Err(format!("HTTP {}{}", status.as_u16(), error.map(|e| format!(" ({e})")).unwrap_or_default()));
    }
    serde_json::from_slice(&bytes).map_err(|_| "answer is not JSON".to_owned())
}

#[async_trait]
impl OidcHttp for ReqwestOidcHttp {
    async fn get_json(&self, url: &str, bearer: Option<&str>) -> Result<Value, String> {
        let mut req = self.client.get(url).header("accept", "application/json");
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        json_of(req.send().await.map_err(|e| e.without_url().to_string())?).await
    }

    async fn post_form(&self, url: &str, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> Result<Value, String> {
        let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(form.iter()).finish();
        let mut req = self
            .client
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body);
        if let Some((id, secret)) = basic {
            // RFC 6749 2.3.1: both parts form-encoded before Basic encoding.
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            req = req.basic_auth(enc(id), Some(enc(secret)));
        }
        json_of(req.send().await.map_err(|e| e.without_url().to_string())?).await
    }
}
