//! The connection loop: how many connections are served at once, how long a client may
//! take to send a request head, TCP_NODELAY, and the WorkOS envelope on the refusals
//! hyper answers by itself.
//!
//! **Limits.** At most [`Limits::max_connections`] connections are served; beyond that,
//! new ones wait in the kernel's backlog until one closes. A client gets
//! [`Limits::header_read_timeout`] to send each request head, on a new connection and
//! between requests on a kept-alive one: idle and slowloris connections are closed then,
//! so they cannot hold the slots (and `/health`) for longer than that. Bodies are bounded
//! by the body limit and the handlers' own reads.
//!
//! hyper refuses a request head it cannot take before any service runs: a URI longer
//! than 65534 bytes (a constant, `MAX_URI_LEN`, no setting) is a 414, a head larger
//! than the read buffer or with more than 100 headers a 431, and an unparseable one a
//! 400. It writes that answer itself, with an empty body and no hook (`on_error` in
//! `proto/h1/role.rs`), then closes the connection; `axum::serve` exposes no builder
//! and hyper-util's connection builder only reports the error after the answer is
//! written. Enforcing lower limits in the router's first layer would answer JSON for
//! part of the range only: over 64 KiB of URI hyper still answers first. So the
//! connection itself recognizes hyper's automatic answer as it is written (exactly one
//! write of a head with status 400, 414 or 431, `connection: close`, `content-length: 0`
//! and `date`, nothing else: the service's own answers always carry a body or other
//! headers) and writes the JSON answer in its place. Everything else passes through
//! untouched; should hyper's head ever arrive in another shape (a pipelined answer
//! still unflushed in the same write), the client gets hyper's empty answer, with the
//! right status, as before.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;

/// The connection limits (`--max-connections`, `--header-read-timeout-secs`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time a client has to send a request head.
    pub header_read_timeout: std::time::Duration,
}

/// Serves `service` on `listener` within `limits` until `stop` turns true, then lets the
/// connections finish their requests (graceful shutdown) and returns.
pub async fn serve<S>(
    listener: TcpListener, service: S, limits: Limits, mut stop: tokio::sync::watch::Receiver<bool>,
) -> io::Result<()>
where
    S: tower::Service<axum::extract::Request, Response = axum::response::Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    use tower::ServiceExt as _;
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = stopped(&mut stop) => break,
        };
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => break,
        };
        // Responses go out as soon as they are written: with Nagle's algorithm, the tail
        // of a large response can wait for the client's delayed ACK.
        let _ = tcp.set_nodelay(true);
        let io = hyper_util::rt::TokioIo::new(Connection::new(tcp));
        let service = hyper_util::service::TowerToHyperService::new(
            service.clone().map_request(|req: hyper::Request<hyper::body::Incoming>| req.map(axum::body::Body::new)),
        );
        let mut stop = stop.clone();
        connections.spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            // A request head may take 128 KiB (URIs up to hyper's 64 KiB, then headers):
            // beyond, a 431.
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_buf_size(MAX_HEAD_BYTES);
            let conn = builder.serve_connection(io, service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
        // Reap finished connections as we go, so the set stays as large as what is open.
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// The largest request head read.
const MAX_HEAD_BYTES: usize = 128 * 1024;

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// A connection that writes the JSON refusal in place of hyper's empty one.
pub struct Connection<IO> {
    io: IO,
    /// The answer being written in place of hyper's, if one is.
    replacing: Option<Replacement>,
}

struct Replacement {
    bytes: Vec<u8>,
    written: usize,
}

impl<IO> Connection<IO> {
    /// Wraps a connection.
    pub fn new(io: IO) -> Self {
        Self { io, replacing: None }
    }
}

impl<IO: AsyncWrite + Unpin> Connection<IO> {
    /// Writes the rest of the replacement, if any.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(r) = &mut self.replacing {
            if r.written == r.bytes.len() {
                self.replacing = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &r.bytes[r.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            r.written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Connection<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Connection<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.replacing.is_none() {
            match json_refusal(buf) {
                Some(bytes) => this.replacing = Some(Replacement { bytes, written: 0 }),
                None => return Pin::new(&mut this.io).poll_write(cx, buf),
            }
        }
        // hyper's head counts as written once ours is: until then it is offered again.
        ready!(this.poll_replacement(cx))?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let total = bufs.iter().map(|b| b.len()).sum();
        if this.replacing.is_none() {
            // hyper's head alone, as the one non-empty slice.
            let only = bufs.iter().find(|b| !b.is_empty()).filter(|b| b.len() == total);
            match only.and_then(|b| json_refusal(b)) {
                Some(bytes) => this.replacing = Some(Replacement { bytes, written: 0 }),
                None => return Pin::new(&mut this.io).poll_write_vectored(cx, bufs),
            }
        }
        ready!(this.poll_replacement(cx))?;
        Poll::Ready(Ok(total))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

/// The JSON answer to write instead of `head`, if `head` is exactly one of hyper's
/// automatic refusals (for example `HTTP/1.1 414 URI Too Long\r\nconnection: close\r\n
/// content-length: 0\r\ndate: …\r\n\r\n`).
fn json_refusal(head: &[u8]) -> Option<Vec<u8>> {
    // Cheap first: every write passes here, and hyper's head is about a hundred bytes.
    if head.len() > 256 || !head.starts_with(b"HTTP/1.") || !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    let head = std::str::from_utf8(head).ok()?.strip_suffix("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let (version, rest) = status_line.split_once(' ')?;
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return None;
    }
    let (status, _reason) = rest.split_once(' ')?;
    let (code, message) = match status {
        "400" => ("invalid_request", "The request could not be parsed."),
        "414" => ("uri_too_long", "The request URI is too long."),
        "431" => ("request_header_fields_too_large", "The request header fields are too large."),
        _ => return None,
    };
    let (mut empty, mut close, mut date) = (false, false, None);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" if value == "0" && !empty => empty = true,
            "connection" if value.eq_ignore_ascii_case("close") && !close => close = true,
            "date" if date.is_none() => date = Some(value),
            _ => return None,
        }
    }
    if !(empty && close) {
        return None;
    }
    tracing::debug!(status, "request refused before routing");
    let body = serde_json::json!({"message": message, "code": code}).to_string();
    let request_id = vestibule_ids::generate(vestibule_ids::Kind::Request);
    let mut out = format!(
        "{status_line}\r\ncontent-type: application/json\r\nx-request-id: {request_id}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    if let Some(date) = date {
        out.push_str(&format!("date: {date}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const HYPER_414: &str = "HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\ndate: Mon, 07 Dec 2026 17:35:33 GMT\r\n\r\n";

    #[test]
    fn only_hypers_own_refusals_are_replaced() {
        let out = String::from_utf8(json_refusal(HYPER_414.as_bytes()).unwrap()).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\n"), "{head}");
        assert!(head.contains(&format!("\r\ncontent-length: {}\r\n", body.len())), "{head}");
        assert!(head.ends_with("\r\ndate: Mon, 07 Dec 2026 17:35:33 GMT"), "{head}");
        assert_eq!(body, r#"{"message":"The request URI is too long.","code":"uri_too_long"}"#);
        for other in [
            // The service's answers: a body, other headers, other statuses.
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n",
            "HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\ndate: x\r\n\r\n",
            "HTTP/1.1 414 URI Too Long\r\nconnection: close\r\ncontent-length: 0\r\nx-request-id: r\r\n\r\n",
            "HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            "HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\nx",
            "HTTP/2 431 x\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            "{\"HTTP/1.1 414\"}",
        ] {
            assert!(json_refusal(other.as_bytes()).is_none(), "{other:?}");
        }
    }

    #[tokio::test]
    async fn the_replacement_is_written_whole_through_a_slow_peer() {
        // A pipe smaller than the answer: the replacement takes several writes.
        let (a, mut b) = tokio::io::duplex(16);
        let mut conn = Connection::new(a);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            b.read_to_end(&mut got).await.unwrap();
            got
        });
        conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").await.unwrap();
        conn.write_all(HYPER_414.as_bytes()).await.unwrap();
        conn.shutdown().await.unwrap();
        drop(conn);
        let got = String::from_utf8(reader.await.unwrap()).unwrap();
        let (first, second) = got.split_at("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".len());
        assert_eq!(first, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}");
        assert!(second.starts_with("HTTP/1.1 414 URI Too Long\r\ncontent-type: application/json\r\n"), "{second}");
        assert!(second.ends_with(r#"{"message":"The request URI is too long.","code":"uri_too_long"}"#), "{second}");
    }
}
