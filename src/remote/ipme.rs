//! `ipme`: the addresses that are "me" for the mail-loop rule
//! (`remote.md` §2.4): 0.0.0.0 and every address of an up interface
//! (improvement: IPv6 ones too, with `::`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nix::net::if_::InterfaceFlags;

/// The local addresses, or an error when the interfaces cannot be listed
/// (`ZSystem resources temporarily unavailable.`).
pub fn addresses() -> std::io::Result<Vec<IpAddr>> {
    let mut out = vec![
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    ];
    let addrs = nix::ifaddrs::getifaddrs().map_err(std::io::Error::from)?;
    for a in addrs {
        if !a.flags.contains(InterfaceFlags::IFF_UP) {
            continue;
        }
        let Some(sa) = a.address else { continue };
        if let Some(v4) = sa.as_sockaddr_in() {
            out.push(IpAddr::V4(v4.ip()));
        } else if let Some(v6) = sa.as_sockaddr_in6() {
            out.push(IpAddr::V6(v6.ip()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_is_me() {
        let me = super::addresses().unwrap();
        assert!(me.contains(&"0.0.0.0".parse().unwrap()));
        assert!(me.contains(&"127.0.0.1".parse().unwrap()));
        assert!(!me.contains(&"127.0.0.2".parse().unwrap()));
    }
}
