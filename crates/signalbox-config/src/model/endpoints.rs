//! Warnings about where providers point: a base URL on a link-local or
//! cloud metadata address is valid, but almost always a mistake (or an
//! attempt to make the gateway fetch instance credentials), so `signalbox
//! check` says so.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Config;

/// Host names that resolve to a cloud instance-metadata service.
const METADATA_HOSTS: &[&str] = &[
    "metadata.google.internal",
    "metadata.goog",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
];

/// Metadata services outside the link-local ranges: Alibaba Cloud's, and
/// AWS's IPv6 one.
const METADATA_V4: [Ipv4Addr; 1] = [Ipv4Addr::new(100, 100, 100, 200)];
const METADATA_V6: [Ipv6Addr; 1] = [Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)];

impl Config {
    /// One warning per provider whose `base-url` host is link-local
    /// (169.254.0.0/16, fe80::/10) or a known metadata service.
    pub(super) fn endpoint_warnings(&self) -> Vec<String> {
        self.providers
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let url = url::Url::parse(&p.base_url).ok()?;
                let why = metadata_reason(&url)?;
                Some(format!(
                    "providers[{i}].base-url: host {} is {why}; a provider there is almost \
                     certainly a mistake, and the gateway would send it requests (and the \
                     provider's api-key)",
                    url.host_str().unwrap_or_default()
                ))
            })
            .collect()
    }
}

/// Why a URL's host is suspicious, if it is.
fn metadata_reason(url: &url::Url) -> Option<&'static str> {
    match url.host()? {
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            METADATA_HOSTS
                .contains(&name.as_str())
                .then_some("a cloud metadata service name")
        }
        url::Host::Ipv4(ip) => ip_reason(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => ip_reason(IpAddr::V6(ip)),
    }
}

fn ip_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) if v4.is_link_local() => Some("a link-local address (169.254.0.0/16)"),
        IpAddr::V4(v4) if METADATA_V4.contains(&v4) => Some("a cloud metadata address"),
        IpAddr::V4(_) => None,
        // An IPv4-mapped address (`::ffff:169.254.169.254`) is judged as IPv4.
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => ip_reason(IpAddr::V4(v4)),
            None if (v6.segments()[0] & 0xffc0) == 0xfe80 => {
                Some("a link-local address (fe80::/10)")
            }
            None if METADATA_V6.contains(&v6) => Some("a cloud metadata address"),
            None => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(url: &str) -> Option<&'static str> {
        metadata_reason(&url::Url::parse(url).ok()?)
    }

    #[test]
    fn flags_link_local_and_metadata_hosts() {
        for url in [
            "http://169.254.169.254/latest",
            "http://169.254.0.1:8080/v1",
            "http://[fe80::1]/v1",
            "http://[febf::1]/v1",
            "http://[fd00:ec2::254]/",
            "http://[::ffff:169.254.169.254]/",
            "http://100.100.100.200/",
            "http://metadata.google.internal/computeMetadata/v1",
            "http://METADATA.GOOGLE.INTERNAL./",
            "http://metadata/",
        ] {
            assert!(reason(url).is_some(), "{url}");
        }
    }

    #[test]
    fn ordinary_hosts_pass() {
        for url in [
            "https://api.openai.com/v1",
            "http://127.0.0.1:9/v1",
            "http://10.0.0.5:8000/v1",
            "http://[::1]:8080/",
            "http://[fec0::1]/",
            "http://100.100.100.201/",
            "http://metadata.example.com/",
            "http://localhost:11434/v1",
        ] {
            assert!(reason(url).is_none(), "{url}");
        }
    }
}
