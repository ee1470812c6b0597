//! The DNS TXT resolver used to verify organization domains: the system resolver, or a
//! configured name server (`--dns-resolver IP:PORT`).

use async_trait::async_trait;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use std::net::SocketAddr;
use vestibule_core::organizations::dns::TxtResolver;

/// A TXT resolver backed by hickory.
pub struct HickoryTxt {
    resolver: TokioResolver,
}

impl HickoryTxt {
    /// Uses `server` when given, else the system configuration.
    pub fn new(server: Option<SocketAddr>) -> anyhow::Result<Self> {
        let builder = match server {
            Some(addr) => {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                let config = ResolverConfig::from_parts(None, vec![], vec![ns]);
                TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            }
            None => TokioResolver::builder_tokio()?,
        };
        let mut builder = builder;
        // Answers must be fresh: a record added a minute ago should verify now.
        builder.options_mut().cache_size = 0;
        Ok(Self { resolver: builder.build()? })
    }
}

#[async_trait]
impl TxtResolver for HickoryTxt {
    async fn txt(&self, name: &str) -> Result<Vec<String>, String> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self.resolver.txt_lookup(fqdn).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => {
                        Some(txt.txt_data.iter().map(|part| String::from_utf8_lossy(part)).collect::<String>())
                    }
                    _ => None,
                })
                .collect()),
            Err(e) if e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => Err(format!("DNS lookup of {name} failed: {e}")),
        }
    }
}
