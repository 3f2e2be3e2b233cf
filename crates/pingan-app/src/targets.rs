//! Where the server may send requests of its own (webhook deliveries): public addresses, and
//! those the operator allows.

use std::net::IpAddr;

use ipnet::IpNet;
use pingan_core::Reason;

use crate::AppError;

/// Where deliveries may go. Never to this machine, the local networks, link-local addresses (the
/// clouds' metadata services at 169.254.169.254 among them) or other addresses no public receiver
/// has, unless the operator allows them: otherwise an administrator's subscription would make the
/// server a scanner of the networks it sits in, its delivery log showing each host's answer. The
/// sender checks every address a receiver's name resolves to, at every delivery, before it
/// connects.
#[derive(Clone, Debug, Default)]
pub struct TargetPolicy {
    allowed: Vec<IpNet>,
}

impl TargetPolicy {
    /// The policy allowing, besides public addresses, those in `allowed` (a receiver on the
    /// office's own network, say).
    pub fn allowing(allowed: Vec<IpNet>) -> TargetPolicy {
        TargetPolicy { allowed }
    }

    /// Why deliveries may not go to `address`; None if they may.
    pub fn refusal(&self, address: IpAddr) -> Option<Reason> {
        let reason = reserved(address)?;
        if self.allowed.iter().any(|net| net.contains(&address)) { None } else { Some(reason) }
    }

    /// Refuses a subscription whose URL names a refused address outright (a name is checked at
    /// each delivery, where it resolves).
    pub(crate) fn check_url(&self, url: &str) -> Result<(), AppError> {
        let host = url.parse::<http::Uri>().ok().and_then(|uri| uri.host().map(str::to_owned)).unwrap_or_default();
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        let addresses = match literal.parse::<IpAddr>() {
            Ok(address) => vec![address],
            Err(_) if literal.eq_ignore_ascii_case("localhost") => {
                vec![IpAddr::from([127, 0, 0, 1]), IpAddr::from(std::net::Ipv6Addr::LOCALHOST)]
            }
            Err(_) => return Ok(()),
        };
        match addresses.into_iter().find_map(|address| self.refusal(address).map(|reason| (address, reason))) {
            Some((address, reason)) => Err(AppError::TargetRefused { address: address.to_string(), reason }),
            None => Ok(()),
        }
    }
}

/// The kind of address no public receiver has, if `address` is one.
fn reserved(address: IpAddr) -> Option<Reason> {
    const LOOPBACK: Reason = Reason::new("本机（回环地址）", "this machine (loopback)");
    const PRIVATE: Reason = Reason::new("内部网络地址", "a private network");
    const LINK_LOCAL: Reason =
        Reason::new("链路本地地址（含云平台元数据服务）", "link-local (cloud metadata services among them)");
    const SPECIAL: Reason = Reason::new("保留或特殊用途地址", "reserved or special-purpose");
    const MULTICAST: Reason = Reason::new("组播地址", "multicast");
    match address {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            match (a, b, c) {
                (127, _, _) => Some(LOOPBACK),
                (10, _, _) | (192, 168, _) => Some(PRIVATE),
                (172, 16..=31, _) => Some(PRIVATE),
                (100, 64..=127, _) => Some(PRIVATE),
                (169, 254, _) => Some(LINK_LOCAL),
                (0, _, _) | (192, 0, 0) | (198, 18..=19, _) | (240..=255, _, _) => Some(SPECIAL),
                (224..=239, _, _) => Some(MULTICAST),
                _ => None,
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return reserved(IpAddr::V4(v4));
            }
            let segments = v6.segments();
            if v6.is_loopback() {
                Some(LOOPBACK)
            } else if v6.is_unspecified() {
                Some(SPECIAL)
            } else if segments[0] & 0xffc0 == 0xfe80 {
                Some(LINK_LOCAL)
            } else if segments[0] & 0xfe00 == 0xfc00 {
                Some(PRIVATE)
            } else if segments[0] & 0xff00 == 0xff00 {
                Some(MULTICAST)
            } else if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                // NAT64: the IPv4 address it stands for.
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                reserved(IpAddr::from([a, b, c, d]))
            } else {
                None
            }
        }
    }
}
