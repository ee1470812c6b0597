//! What can go wrong talking to the API: an error answer, or no answer at all.

use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// A failed call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a non-success status (boxed: errors stay small on the happy path).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// No connection could be made (refused, DNS, TLS).
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The URL requested (never carries credentials).
        url: String,
        /// The innermost cause, in words.
        reason: String,
    },
    /// The server did not answer within the request timeout.
    #[error("no answer from {url} within {}s", .timeout.as_secs_f64())]
    Timeout {
        /// The URL requested.
        url: String,
        /// The per-request timeout that elapsed.
        timeout: Duration,
    },
    /// The connection broke while sending or receiving.
    #[error("request to {url} failed: {reason}")]
    Transport {
        /// The URL requested.
        url: String,
        /// The innermost cause, in words.
        reason: String,
    },
    /// The base URL or a path could not form a URL.
    #[error("invalid URL {url:?}: {reason}")]
    Url {
        /// What was given.
        url: String,
        /// Why it is not a URL.
        reason: String,
    },
    /// A success body was not the JSON the caller expected.
    #[error("unexpected response body: {0}")]
    Decode(String),
    /// The request body could not be serialized.
    #[error("cannot encode the request body: {0}")]
    Encode(#[from] serde_json::Error),
    /// Writing a download to its destination failed.
    #[error("cannot write the download: {0}")]
    Write(#[from] std::io::Error),
}

impl Error {
    /// Whether another attempt may succeed: connection failures and timeouts.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Connect { .. } | Error::Timeout { .. } | Error::Transport { .. })
    }

    /// The API error, when the server answered.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e.as_ref()),
            _ => None,
        }
    }

    /// Classifies a reqwest failure without its (possibly long) chain of wrappers.
    pub(crate) fn from_reqwest(e: &reqwest::Error, url: &str, timeout: Duration) -> Error {
        let url = url.to_owned();
        if e.is_timeout() {
            return Error::Timeout { url, timeout };
        }
        let reason = innermost(e);
        if e.is_connect() { Error::Connect { url, reason } } else { Error::Transport { url, reason } }
    }
}

/// The last cause in an error chain: "Connection refused (os error 111)" rather than
/// "error sending request for url (…)".
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// A non-success answer, as every WorkOS SDK reads it.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// `code` (or OAuth `error`) from the body.
    pub code: Option<String>,
    /// `message` (or `error_description`, `error`, the raw body, the status text).
    pub message: String,
    /// `X-Request-ID` of the response.
    pub request_id: Option<String>,
    /// Integer `Retry-After`, on 429s.
    pub retry_after: Option<u64>,
    /// The parsed body, when it was JSON (for `errors: [...]` and flow-specific fields).
    pub body: Option<Value>,
}

impl ApiError {
    /// Builds the error from a response's parts.
    pub(crate) fn new(status: u16, request_id: Option<String>, retry_after: Option<u64>, raw: &[u8]) -> ApiError {
        let body: Option<Value> = serde_json::from_slice(raw).ok();
        let field = |k: &str| body.as_ref().and_then(|b| b.get(k)).and_then(Value::as_str).map(str::to_owned);
        let code = field("code").or_else(|| field("error"));
        let message = field("message")
            .or_else(|| field("error_description"))
            .or_else(|| field("error"))
            .or_else(|| {
                let text = String::from_utf8_lossy(raw);
                let text = text.trim();
                (!text.is_empty()).then(|| text.chars().take(200).collect())
            })
            .unwrap_or_else(|| {
                let reason = reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason());
                format!("HTTP {status} {}", reason.unwrap_or(""))
            });
        ApiError { status, code, message: message.replace(['\n', '\r'], " "), request_id, retry_after, body }
    }

    /// The error as one JSON object, for machine readers.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "request_id": self.request_id,
            "errors": self.body.as_ref().and_then(|b| b.get("errors")),
        })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(Value::Array(errors)) = self.body.as_ref().and_then(|b| b.get("errors")) {
            let fields: Vec<String> = errors
                .iter()
                .filter_map(|e| {
                    let field = e.get("field").or_else(|| e.get("instancePath")).and_then(Value::as_str)?;
                    let code = e.get("code").and_then(Value::as_str).unwrap_or("invalid");
                    Some(format!("{field}: {code}"))
                })
                .collect();
            if !fields.is_empty() {
                write!(f, " [{}]", fields.join(", "))?;
            }
        }
        write!(f, " (HTTP {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, ", code {code}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, ", request {id}")?;
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_workos_envelope() {
        let e = ApiError::new(
            404,
            Some("req_1".into()),
            None,
            br#"{"message":"Organization not found: 'org_1'.","code":"entity_not_found"}"#,
        );
        assert_eq!(e.code.as_deref(), Some("entity_not_found"));
        assert_eq!(e.to_string(), "Organization not found: 'org_1'. (HTTP 404, code entity_not_found, request req_1)");
    }

    #[test]
    fn falls_back_to_oauth_fields_then_text_then_status() {
        let e = ApiError::new(400, None, None, br#"{"error":"invalid_grant","error_description":"Bad code"}"#);
        assert_eq!((e.code.as_deref(), e.message.as_str()), (Some("invalid_grant"), "Bad code"));
        assert_eq!(ApiError::new(429, None, Some(1), b"Ratelimited\n").message, "Ratelimited");
        assert_eq!(ApiError::new(502, None, None, b"").message, "HTTP 502 Bad Gateway");
    }

    #[test]
    fn names_invalid_fields() {
        let e = ApiError::new(422, None, None, br#"{"message":"Validation failed.","code":"invalid_request_parameters","errors":[{"field":"name","code":"required"}]}"#);
        assert!(e.to_string().starts_with("Validation failed. [name: required] (HTTP 422"));
    }
}
