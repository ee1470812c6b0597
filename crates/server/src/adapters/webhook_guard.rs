//! The guard that keeps outbound requests away from addresses they must not reach:
//! webhook deliveries and endpoint registration, SAML `idp_metadata_url` fetches and
//! OIDC discovery, token, JWKS and userinfo calls all go through [`DnsTargetGuard`]. A
//! URL's host is normalized to the addresses it names, each is classified, checked
//! against a [`TargetPolicy`], and the caller connects to exactly those (pinned).
//!
//! Normalization, in order:
//! - The URL is parsed as browsers parse it (WHATWG, the `url` crate). For http(s) the
//!   parser itself turns every IPv4 notation (decimal `2852039166`, octal
//!   `0251.0376.0251.0376`, hex `0xa9fea9fe`, short `127.1`, percent-encoded, a
//!   trailing dot) into the address, and IPv6 into its canonical form; a host that ends
//!   in a number but is no address is not a URL. Other schemes (whose hosts the parser
//!   leaves opaque) are refused. The HTTP clients parse the URL with the same crate,
//!   so the address checked is the address connected to.
//! - A literal address is used as is; a name is resolved, and every address it
//!   resolves to is checked (one bad answer refuses the target).
//! - An IPv6 address that embeds an IPv4 one is judged by that IPv4 address:
//!   IPv4-mapped `::ffff:a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`,
//!   IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:AABB:CCDD::`,
//!   Teredo `2001:0:SERVER:…:~CLIENT` (both addresses). Only the mapped form reaches this
//!   host's own IPv4 stack; the others leave it (through a tunnel or a translator), so
//!   for them a loopback IPv4 is not "loopback" but simply not public.

use async_trait::async_trait;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use vestibule_core::events::webhooks::TargetGuard;

/// Which addresses outbound targets may resolve to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetPolicy {
    /// Public addresses only (production default).
    PublicOnly,
    /// Public and loopback (`--dev`).
    AllowLoopback,
    /// Anything, private networks included (`--webhook-allow-private`).
    AllowPrivate,
}

/// What an address is, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Globally reachable.
    Public,
    /// This host's loopback interface.
    Loopback,
    /// Private, link-local (cloud metadata lives there), shared, reserved, multicast,
    /// documentation, unspecified: nothing an outbound request should reach.
    NonPublic,
}

impl TargetPolicy {
    fn allows(self, class: Class) -> bool {
        match self {
            TargetPolicy::AllowPrivate => true,
            TargetPolicy::AllowLoopback => class != Class::NonPublic,
            TargetPolicy::PublicOnly => class == Class::Public,
        }
    }
}

fn classify(ip: IpAddr) -> Class {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// IPv4 by the IANA special-purpose registry (RFC 6890 and successors).
fn classify_v4(ip: Ipv4Addr) -> Class {
    let [a, b, c, _] = ip.octets();
    if a == 127 {
        return Class::Loopback;
    }
    let non_public = a == 0 // "this network", 0.0.0.0 included
        || a == 10 // private
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation (TEST-NET-1)
        || (a == 192 && b == 168) // private
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation (TEST-NET-2)
        || (a == 203 && b == 0 && c == 113) // documentation (TEST-NET-3)
        || a >= 224; // multicast 224/4, reserved 240/4, broadcast 255.255.255.255
    if non_public { Class::NonPublic } else { Class::Public }
}

fn v4(hi: u16, lo: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))
}

/// The IPv4 addresses an IPv6 address carries for a tunnel or a translator (whose
/// packets leave this host), if it is of such a form.
fn tunnelled_ipv4(s: [u16; 8]) -> Option<Vec<Ipv4Addr>> {
    match s {
        // IPv4-compatible (deprecated, RFC 4291 2.5.5.1); `::` and `::1` are not.
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 || lo > 1 => Some(vec![v4(hi, lo)]),
        // IPv4-translated (RFC 2765 SIIT).
        [0, 0, 0, 0, 0xffff, 0, hi, lo] => Some(vec![v4(hi, lo)]),
        // NAT64 well-known prefix (RFC 6052).
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(vec![v4(hi, lo)]),
        // 6to4 (RFC 3056): the IPv4 in bits 16..48.
        [0x2002, hi, lo, ..] => Some(vec![v4(hi, lo)]),
        // Teredo (RFC 4380): the server in bits 32..64, the client inverted in the last 32.
        [0x2001, 0, shi, slo, _, _, chi, clo] => Some(vec![v4(shi, slo), v4(!chi, !clo)]),
        _ => None,
    }
}

/// IPv6 by the IANA special-purpose registry, IPv4 forms by their IPv4 address.
fn classify_v6(ip: Ipv6Addr) -> Class {
    if ip == Ipv6Addr::LOCALHOST {
        return Class::Loopback;
    }
    // IPv4-mapped: a dual-stack socket connects to the IPv4 address itself.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    if let Some(embedded) = tunnelled_ipv4(s) {
        let public = embedded.into_iter().all(|v4| classify_v4(v4) == Class::Public);
        return if public { Class::Public } else { Class::NonPublic };
    }
    let first = s[0];
    let non_public = ip.is_unspecified()
        || (first & 0xff00) == 0 // ::/8 reserved (the forms above excepted)
        || matches!(s, [0x64, 0xff9b, 1, ..]) // NAT64 local-use 64:ff9b:1::/48 (RFC 8215)
        || matches!(s, [0x100, 0, 0, 0, ..]) // discard-only 100::/64
        || (first == 0x2001 && s[1] < 0x200 && !ietf_assignment_is_global(s)) // 2001::/23
        || matches!(s, [0x2001, 0xdb8, ..]) // documentation 2001:db8::/32
        || (first == 0x3fff && s[1] < 0x1000) // documentation 3fff::/20
        || first == 0x5f00 // SRv6 SIDs 5f00::/16
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
        || (first & 0xff00) == 0xff00; // multicast ff00::/8
    if non_public { Class::NonPublic } else { Class::Public }
}

/// The globally reachable exceptions inside 2001::/23 (IETF protocol assignments).
fn ietf_assignment_is_global(s: [u16; 8]) -> bool {
    matches!(s, [0x2001, 1, 0, 0, 0, 0, 0, 1..=3]) // PCP, TURN, DNS-SD SRP anycast
        || matches!(s, [0x2001, 3, ..]) // AMT
        || matches!(s, [0x2001, 4, 0x112, ..]) // AS112-v6
        || matches!(s, [0x2001, 0x20..=0x3f, ..]) // ORCHIDv2, drone remote ID
}

/// Resolves target hosts and applies a [`TargetPolicy`].
pub struct DnsTargetGuard {
    /// What is allowed.
    pub policy: TargetPolicy,
}

#[async_trait]
impl TargetGuard for DnsTargetGuard {
    async fn resolve(&self, raw: &str) -> Result<Vec<SocketAddr>, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("only http and https URLs are allowed".into());
        }
        let port = url.port_or_known_default().ok_or("no port")?;
        let (host, addrs): (String, Vec<SocketAddr>) = match url.host().ok_or("no host")? {
            url::Host::Ipv4(ip) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
            url::Host::Ipv6(ip) => (ip.to_string(), vec![SocketAddr::new(ip.into(), port)]),
            url::Host::Domain(name) => {
                let lookup = tokio::net::lookup_host((name, port));
                match tokio::time::timeout(Duration::from_secs(5), lookup).await {
                    Ok(Ok(a)) => (name.to_owned(), a.collect()),
                    Ok(Err(e)) => return Err(format!("{name} does not resolve ({e})")),
                    Err(_) => return Err(format!("resolving {name} timed out")),
                }
            }
        };
        if addrs.is_empty() {
            return Err(format!("{host} does not resolve"));
        }
        for a in &addrs {
            let ip = a.ip();
            if !self.policy.allows(classify(ip)) {
                return Err(if host == ip.to_string() {
                    format!("{ip} is a private or reserved address")
                } else {
                    format!("{host} resolves to {ip}, a private or reserved address")
                });
            }
        }
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cloud metadata address (169.254.169.254) in every spelling a URL can give it.
    const METADATA_FORMS: &[&str] = &[
        "http://169.254.169.254/latest",
        // Other IPv4 notations: the URL parser turns each into 169.254.169.254.
        "http://2852039166/latest",
        "http://0251.0376.0251.0376/latest",
        "http://0xa9fea9fe/latest",
        "http://0xa9.0376.43518/latest",
        "http://169.254.169.254./latest",
        "http://%31%36%39.254.169.254/latest",
        // IPv6 forms that embed it.
        "http://[::ffff:169.254.169.254]/latest",
        "http://[::ffff:a9fe:a9fe]/latest",
        "http://[::a9fe:a9fe]/latest",
        "http://[::169.254.169.254]/latest",
        "http://[::ffff:0:a9fe:a9fe]/latest",
        "http://[64:ff9b::a9fe:a9fe]/latest",
        "http://[64:ff9b::169.254.169.254]/latest",
        "http://[64:ff9b:1::a9fe:a9fe]/latest",
        "http://[2002:a9fe:a9fe::]/latest",
        "http://[2002:a9fe:a9fe:1::1]:8080/latest",
        // Teredo: client 169.254.169.254 (stored inverted) behind a public server …
        "http://[2001:0:4136:e378:8000:63bf:5601:5601]/latest",
        // … and a public client behind server 169.254.169.254.
        "http://[2001:0:a9fe:a9fe::f7f7:f7f7]/latest",
    ];

    /// Loopback spellings that reach this host's own loopback interface.
    const LOOPBACK_FORMS: &[&str] = &[
        "http://127.0.0.1:9/hook",
        "http://127.1:9/hook",
        "http://2130706433:9/hook",
        "http://0x7f000001:9/hook",
        "http://0177.0.0.1:9/hook",
        "http://127.255.255.254:9/hook",
        "http://[::1]:9/hook",
        "http://[0:0:0:0:0:0:0:1]:9/hook",
        "http://[::ffff:127.0.0.1]:9/hook",
    ];

    /// Loopback IPv4 inside addresses whose packets leave this host (deprecated
    /// IPv4-compatible, NAT64, 6to4, Teredo): never this host's loopback, so refused
    /// even where loopback is allowed.
    const EMBEDDED_LOOPBACK_FORMS: &[&str] = &[
        "http://[::127.0.0.1]:9/hook",
        "http://[::7f00:1]:9/hook",
        "http://[64:ff9b::127.0.0.1]:9/hook",
        "http://[2002:7f00:1::]:9/hook",
        "http://[2001:0:4136:e378::80ff:fffe]:9/hook",
    ];

    /// Other non-public addresses, IPv6 and IPv4.
    const NON_PUBLIC_FORMS: &[&str] = &[
        "http://[fec0::1]/",
        "http://[feff::1]/",
        "http://[fc00::1]/",
        "http://[fd12:3456::1]/",
        "http://[fe80::1]/",
        "http://[febf::1]/",
        "http://[ff02::1]/",
        "http://[ff0e::1]/",
        "http://[::]/",
        "http://[2001:db8::1]/",
        "http://[100::1]/",
        "http://[3fff::1]/",
        "http://[5f00::1]/",
        "http://[2001:2::1]/",
        "http://[2001:10::1]/",
        "http://[1::1]/",
        "http://[64:ff9b::10.0.0.1]/",
        "http://[64:ff9b::192.168.1.1]/",
        "http://[64:ff9b:1::5db8:d822]/",
        "http://[2002:c0a8:101::1]/",
        "http://[2002:a00:1::]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[::10.0.0.1]/",
        "http://0.1.2.3/",
        "http://0/",
        "http://10.0.0.1/",
        "http://100.64.0.1/",
        "http://100.127.255.255/",
        "http://169.254.1.1/",
        "http://172.16.0.1/",
        "http://172.31.255.255/",
        "http://192.0.0.1/",
        "http://192.0.2.1/",
        "http://192.168.0.1/",
        "http://198.18.0.1/",
        "http://198.19.255.255/",
        "http://198.51.100.1/",
        "http://203.0.113.1/",
        "http://224.0.0.1/",
        "http://239.255.255.250/",
        "http://240.0.0.1/",
        "http://255.255.255.255/",
        "http://3232235777/",
        "http://012.0.0.1/",
        "http://0xac.16.0.1/",
    ];

    /// Public addresses, including public IPv4 inside the IPv6 forms that embed one.
    const PUBLIC_FORMS: &[&str] = &[
        "https://93.184.216.34/hook",
        "https://1.1.1.1/hook",
        "https://8.8.8.8/hook",
        "https://1572395042/hook",
        "https://100.63.255.255/",
        "https://100.128.0.1/",
        "https://172.15.255.255/",
        "https://172.32.0.1/",
        "https://192.0.1.1/",
        "https://198.17.255.255/",
        "https://198.20.0.1/",
        "https://223.255.255.255/",
        "https://[2606:4700::1111]/hook",
        "https://[2001:4860:4860::8888]/hook",
        "https://[2a00:1450:4001::1]/hook",
        "https://[::ffff:93.184.216.34]/hook",
        "https://[64:ff9b::5db8:d822]/hook",
        "https://[2002:5db8:d822::1]/hook",
        "https://[2001:0:4136:e378::f7f7:f7f7]/hook",
        "https://[2001:3::1]/hook",
        "https://[2001:20::1]/hook",
    ];

    #[test]
    fn address_classes() {
        for (ip, class) in [
            ("10.0.0.1", Class::NonPublic),
            ("172.16.0.1", Class::NonPublic),
            ("192.168.1.1", Class::NonPublic),
            ("169.254.169.254", Class::NonPublic),
            ("0.0.0.0", Class::NonPublic),
            ("100.64.0.1", Class::NonPublic),
            ("127.0.0.1", Class::Loopback),
            ("::1", Class::Loopback),
            ("::ffff:127.0.0.1", Class::Loopback),
            ("::127.0.0.1", Class::NonPublic),
            ("fd00::1", Class::NonPublic),
            ("fe80::1", Class::NonPublic),
            ("::ffff:10.0.0.1", Class::NonPublic),
            ("::a9fe:a9fe", Class::NonPublic),
            ("64:ff9b::a9fe:a9fe", Class::NonPublic),
            ("2002:a9fe:a9fe::", Class::NonPublic),
            ("2001:0:4136:e378:8000:63bf:5601:5601", Class::NonPublic),
            ("fec0::1", Class::NonPublic),
            ("93.184.216.34", Class::Public),
            ("1.1.1.1", Class::Public),
            ("2606:4700::1111", Class::Public),
            ("64:ff9b::5db8:d822", Class::Public),
        ] {
            assert_eq!(classify(ip.parse().unwrap()), class, "{ip}");
        }
    }

    fn guard(policy: TargetPolicy) -> DnsTargetGuard {
        DnsTargetGuard { policy }
    }

    #[test]
    fn the_url_parser_hands_the_guard_ipv4_in_every_notation_as_one_address() {
        // http(s) URLs are parsed as browsers parse them (WHATWG): decimal, octal, hex,
        // short and percent-encoded IPv4 come out as the address itself, and IPv6 in
        // its canonical form. So what the guard checks is what the client connects to.
        let metadata = url::Host::<&str>::Ipv4(std::net::Ipv4Addr::new(169, 254, 169, 254));
        for raw in &METADATA_FORMS[..7] {
            let u = url::Url::parse(raw).unwrap();
            assert_eq!(u.host(), Some(metadata.clone()), "{raw}");
            assert_eq!(u.host_str(), Some("169.254.169.254"), "{raw}");
        }
        let u = url::Url::parse("http://127.1:9/").unwrap();
        assert_eq!(u.host_str(), Some("127.0.0.1"));
        let u = url::Url::parse("http://[::127.0.0.1]/").unwrap();
        assert_eq!(u.host(), Some(url::Host::Ipv6("::7f00:1".parse().unwrap())));
        let u = url::Url::parse("http://[64:ff9b::169.254.169.254]/").unwrap();
        assert_eq!(u.host_str(), Some("[64:ff9b::a9fe:a9fe]"));
        // A host that ends in a number but is no IPv4 address is refused by the parser.
        assert!(url::Url::parse("http://169.254.169.254.256/").is_err());
        assert!(url::Url::parse("http://example.0x1g/").is_ok_and(|u| u.host_str() == Some("example.0x1g")));
    }

    #[tokio::test]
    async fn every_form_of_a_non_public_address_is_refused() {
        for policy in [TargetPolicy::PublicOnly, TargetPolicy::AllowLoopback] {
            for raw in METADATA_FORMS.iter().chain(NON_PUBLIC_FORMS).chain(EMBEDDED_LOOPBACK_FORMS) {
                let why = guard(policy).resolve(raw).await.expect_err(&format!("{policy:?} {raw}"));
                assert!(why.contains("private or reserved"), "{policy:?} {raw}: {why}");
            }
        }
    }

    #[tokio::test]
    async fn loopback_is_allowed_only_where_the_policy_allows_it() {
        for raw in LOOPBACK_FORMS {
            assert!(guard(TargetPolicy::PublicOnly).resolve(raw).await.is_err(), "{raw}");
            let addrs = guard(TargetPolicy::AllowLoopback).resolve(raw).await.unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert!(addrs.iter().all(|a| a.port() == 9), "{raw}: {addrs:?}");
        }
    }

    #[tokio::test]
    async fn public_addresses_pass_every_policy() {
        for policy in [TargetPolicy::PublicOnly, TargetPolicy::AllowLoopback, TargetPolicy::AllowPrivate] {
            for raw in PUBLIC_FORMS {
                let addrs = guard(policy).resolve(raw).await.unwrap_or_else(|e| panic!("{policy:?} {raw}: {e}"));
                assert_eq!(addrs.len(), 1, "{raw}");
            }
        }
    }

    #[tokio::test]
    async fn allow_private_lets_everything_through() {
        let open = guard(TargetPolicy::AllowPrivate);
        for raw in METADATA_FORMS.iter().chain(NON_PUBLIC_FORMS).chain(EMBEDDED_LOOPBACK_FORMS).chain(LOOPBACK_FORMS) {
            assert!(open.resolve(raw).await.is_ok(), "{raw}");
        }
    }

    #[tokio::test]
    async fn guard_refuses_private_targets_unless_allowed() {
        let strict = DnsTargetGuard { policy: TargetPolicy::PublicOnly };
        assert!(strict.resolve("http://127.0.0.1:9/hook").await.is_err());
        assert!(strict.resolve("http://10.1.2.3/hook").await.is_err());
        assert!(strict.resolve("http://[::1]:9/hook").await.is_err());
        assert!(strict.resolve("http://localhost:9/hook").await.is_err(), "names are resolved, then checked");
        let dev = DnsTargetGuard { policy: TargetPolicy::AllowLoopback };
        assert!(dev.resolve("http://127.0.0.1:9/hook").await.is_ok());
        assert!(dev.resolve("http://localhost:9/hook").await.is_ok());
        assert!(dev.resolve("http://169.254.169.254/latest").await.is_err());
        let open = DnsTargetGuard { policy: TargetPolicy::AllowPrivate };
        assert!(open.resolve("http://10.1.2.3/hook").await.is_ok());
        assert!(open.resolve("http://no-such-host.invalid/hook").await.is_err());
        assert!(open.resolve("ftp://10.1.2.3/hook").await.is_err(), "only http(s) is fetched");
    }
}
