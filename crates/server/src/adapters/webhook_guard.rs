//! The guard that keeps webhook deliveries (and endpoint registration) away from
//! addresses they must not reach: hosts are resolved, checked against a
//! [`TargetPolicy`] and pinned.

use async_trait::async_trait;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use vestibule_core::events::webhooks::TargetGuard;

/// Which addresses webhook targets may resolve to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetPolicy {
    /// Public addresses only (production default).
    PublicOnly,
    /// Public and loopback (`--dev`).
    AllowLoopback,
    /// Anything, private networks included (`--webhook-allow-private`).
    AllowPrivate,
}

fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

/// Addresses no webhook should reach unless allowed: private, link-local (cloud
/// metadata lives there), shared, unspecified, multicast and reserved ranges.
fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_non_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// Resolves endpoint hosts and applies a [`TargetPolicy`].
pub struct DnsTargetGuard {
    /// What is allowed.
    pub policy: TargetPolicy,
}

#[async_trait]
impl TargetGuard for DnsTargetGuard {
    async fn resolve(&self, raw: &str) -> Result<Vec<SocketAddr>, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
        let host = url.host_str().ok_or("no host")?.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = url.port_or_known_default().ok_or("no port")?;
        let addrs: Vec<SocketAddr> =
            match tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((host.as_str(), port))).await {
                Ok(Ok(a)) => a.collect(),
                Ok(Err(e)) => return Err(format!("{host} does not resolve ({e})")),
                Err(_) => return Err(format!("resolving {host} timed out")),
            };
        if addrs.is_empty() {
            return Err(format!("{host} does not resolve"));
        }
        for a in &addrs {
            let ip = a.ip();
            let allowed = match self.policy {
                TargetPolicy::AllowPrivate => true,
                TargetPolicy::AllowLoopback => !is_non_public(ip) || is_loopback(ip),
                TargetPolicy::PublicOnly => !is_non_public(ip),
            };
            if !allowed {
                return Err(format!("{host} resolves to {ip}, a private or reserved address"));
            }
        }
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_classes() {
        for ip in [
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "127.0.0.1",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_non_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_non_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn guard_refuses_private_targets_unless_allowed() {
        let strict = DnsTargetGuard { policy: TargetPolicy::PublicOnly };
        assert!(strict.resolve("http://127.0.0.1:9/hook").await.is_err());
        assert!(strict.resolve("http://10.1.2.3/hook").await.is_err());
        assert!(strict.resolve("http://[::1]:9/hook").await.is_err());
        let dev = DnsTargetGuard { policy: TargetPolicy::AllowLoopback };
        assert!(dev.resolve("http://127.0.0.1:9/hook").await.is_ok());
        assert!(dev.resolve("http://169.254.169.254/latest").await.is_err());
        let open = DnsTargetGuard { policy: TargetPolicy::AllowPrivate };
        assert!(open.resolve("http://10.1.2.3/hook").await.is_ok());
        assert!(open.resolve("http://no-such-host.invalid/hook").await.is_err());
    }
}
