//! Outbound HTTP to OpenID Connect providers (discovery, token, JWKS, userinfo) and to
//! SAML IdP metadata URLs: reqwest clients that never follow redirects (a redirect is
//! an error, not a new target) and give up after ten seconds.

use async_trait::async_trait;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use vestibule_core::sso::oidc::OidcHttp;

/// The reqwest implementation of the OIDC port.
pub struct ReqwestOidcHttp {
    client: reqwest::Client,
}

impl ReqwestOidcHttp {
    /// A client with no redirects, a timeout, and a response size bound.
    pub fn new() -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .user_agent("vestibule-oidc")
            .build()?;
        Ok(Self { client })
    }
}

/// How long a provider or metadata host may take to answer completely.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Largest provider answer read (discovery documents and JWKS are a few KiB).
const MAX_BYTES: usize = 1024 * 1024;

/// The body, read chunk by chunk and refused once it passes `max_bytes`: a hostile host
/// cannot make us buffer more than that.
async fn read_capped(mut resp: reqwest::Response, max_bytes: usize) -> Result<Vec<u8>, String> {
    if resp.content_length().is_some_and(|n| n > max_bytes as u64) {
        return Err(format!("the answer is larger than {max_bytes} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| if e.is_timeout() { "the host timed out".to_owned() } else { e.without_url().to_string() })?
    {
        if body.len() + chunk.len() > max_bytes {
            return Err(format!("the answer is larger than {max_bytes} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn json_of(resp: reqwest::Response) -> Result<Value, String> {
    let status = resp.status();
    let bytes = read_capped(resp, MAX_BYTES).await?;
    if !status.is_success() {
        let error = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
        return Err(format!("HTTP {}{}", status.as_u16(), error.map(|e| format!(" ({e})")).unwrap_or_default()));
    }
    serde_json::from_slice(&bytes).map_err(|_| "answer is not JSON".to_owned())
}

impl ReqwestOidcHttp {
    /// The shared client, or, when the guard gave addresses, one that connects to the
    /// first of them for the URL's host: a second lookup by the client could be answered
    /// differently (DNS rebinding).
    fn client_for(&self, url: &str, addrs: &[SocketAddr], agent: &str) -> Result<reqwest::Client, String> {
        let Some(addr) = addrs.first() else { return Ok(self.client.clone()) };
        let host = url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .user_agent(agent)
            .resolve(host.trim_start_matches('[').trim_end_matches(']'), *addr)
            .build()
            .map_err(|e| e.to_string())
    }
}

#[async_trait]
impl OidcHttp for ReqwestOidcHttp {
    async fn get_json(&self, url: &str, addrs: &[SocketAddr], bearer: Option<&str>) -> Result<Value, String> {
        let mut req = self.client_for(url, addrs, "vestibule-oidc")?.get(url).header("accept", "application/json");
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        json_of(req.send().await.map_err(|e| e.without_url().to_string())?).await
    }

    async fn get_document(&self, url: &str, addrs: &[SocketAddr], max_bytes: usize) -> Result<String, String> {
        let resp = self
            .client_for(url, addrs, "vestibule-saml")?
            .get(url)
            .header("accept", "application/samlmetadata+xml, application/xml, text/xml")
            .send()
            .await
            .map_err(|e| if e.is_timeout() { "the host timed out".to_owned() } else { e.without_url().to_string() })?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(format!("HTTP {} (redirects are not followed)", status.as_u16()));
        }
        if !status.is_success() {
            return Err(format!("HTTP {}", status.as_u16()));
        }
        let body = read_capped(resp, max_bytes).await?;
        String::from_utf8(body).map_err(|_| "the document is not UTF-8".to_owned())
    }

    async fn post_form(
        &self, url: &str, addrs: &[SocketAddr], form: &[(&str, &str)], basic: Option<(&str, &str)>,
    ) -> Result<Value, String> {
        let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(form.iter()).finish();
        let mut req = self
            .client_for(url, addrs, "vestibule-oidc")?
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;

    /// A provider that streams `len` bytes of JSON without announcing a length.
    async fn provider(len: usize) -> String {
        let app = axum::Router::new().route(
            "/",
            get(move || async move {
                let chunks = (0..len.div_ceil(8192)).map(move |i| {
                    let n = 8192.min(len - i * 8192);
                    Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; n]))
                });
                Body::from_stream(futures_util::stream::iter(chunks))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/")
    }

    #[tokio::test]
    async fn provider_answers_are_read_up_to_the_cap_only() {
        let http = ReqwestOidcHttp::new().unwrap();
        let too_big = http.get_json(&provider(MAX_BYTES + 1).await, &[], None).await.unwrap_err();
        assert!(too_big.contains("larger than"), "{too_big}");
        // Within the cap the body is read whole and parsed: only whitespace is not JSON.
        let small = http.get_json(&provider(1000).await, &[], None).await.unwrap_err();
        assert_eq!(small, "answer is not JSON");
    }
}
