//! `ipme`: the addresses that are "me" — 0.0.0.0 and every address of an
//! up interface (`ipme_init`; improvement for qmail-remote: IPv6 ones
//! too, with `::`). qmail-smtpd asks at every connection (for `[1.2.3.4]`
//! recipients), qmail-remote for the mail-loop rule (`remote.md` §2.4).
//!
//! Listing the interfaces is two netlink dumps, the link dump the dearer
//! (every interface's statistics): a tenth of a worker's kernel time per
//! SMTP connection. A process that asks again keeps the list and a
//! netlink socket subscribed to link and address changes; the list is
//! listed afresh only after the kernel reported a change (or the
//! subscription overflowed), so the answer is the one a fresh listing
//! would give. A process that asks once (an exec'd qmail-smtpd) pays for
//! no subscription.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Mutex;

use nix::net::if_::InterfaceFlags;
use nix::sys::socket::{self, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockType};

/// `RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR` (rtnetlink.h).
const GROUPS: u32 = 0x1 | 0x10 | 0x100;

/// What a process remembers between calls.
enum Memo {
    /// Not asked yet.
    Never,
    /// Asked once: the next call subscribes.
    Once,
    /// Subscribed; the list is valid while nothing arrives on `watch`.
    Kept { watch: OwnedFd, list: Vec<IpAddr> },
    /// Subscribed, but the last listing failed: list again.
    Subscribed(OwnedFd),
}

static MEMO: Mutex<Memo> = Mutex::new(Memo::Never);

/// The local addresses, or an error when the interfaces cannot be listed.
pub fn addresses() -> std::io::Result<Vec<IpAddr>> {
    let mut memo = MEMO.lock().unwrap_or_else(|p| p.into_inner());
    if let Memo::Kept { watch, list } = &*memo {
        if !changed(watch) {
            return Ok(list.clone());
        }
    }
    // Subscribe before listing, so a change during the listing shows on
    // the next call.
    let watch = match std::mem::replace(&mut *memo, Memo::Once) {
        Memo::Never => None,
        Memo::Once => subscribe(),
        Memo::Kept { watch, .. } | Memo::Subscribed(watch) => Some(watch),
    };
    let fresh = match list() {
        Ok(l) => l,
        Err(e) => {
            if let Some(watch) = watch {
                *memo = Memo::Subscribed(watch);
            }
            return Err(e);
        }
    };
    if let Some(watch) = watch {
        *memo = Memo::Kept {
            watch,
            list: fresh.clone(),
        };
    }
    Ok(fresh)
}

/// The IPv4 ones, as qmail-smtpd compares them.
pub fn ipv4() -> std::io::Result<Vec<[u8; 4]>> {
    Ok(addresses()?
        .into_iter()
        .filter_map(|a| match a {
            IpAddr::V4(v4) => Some(v4.octets()),
            IpAddr::V6(_) => None,
        })
        .collect())
}

fn list() -> std::io::Result<Vec<IpAddr>> {
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

fn subscribe() -> Option<OwnedFd> {
    let fd = socket::socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        socket::SockProtocol::NetlinkRoute,
    )
    .ok()?;
    socket::bind(fd.as_raw_fd(), &NetlinkAddr::new(0, GROUPS)).ok()?;
    // A reused tcpserver worker closes what a connection left open; not
    // this. (Registered once: a failed listing keeps the subscription.)
    crate::fds::keep(fd.as_raw_fd());
    Some(fd)
}

/// Drain the subscription; true if anything arrived or it failed (an
/// overflow loses events: assume a change).
fn changed(watch: &OwnedFd) -> bool {
    let mut buf = [0u8; 8192];
    let mut any = false;
    loop {
        match socket::recv(watch.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
            Ok(0) => return true,
            Ok(_) => any = true,
            Err(nix::errno::Errno::EAGAIN) => return any,
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_me() {
        let me = addresses().unwrap();
        assert!(me.contains(&"0.0.0.0".parse().unwrap()));
        assert!(me.contains(&"127.0.0.1".parse().unwrap()));
        assert!(!me.contains(&"127.0.0.2".parse().unwrap()));
    }

    #[test]
    fn kept_list_matches_a_fresh_one() {
        for _ in 0..4 {
            let mut kept = addresses().unwrap();
            let mut fresh = list().unwrap();
            kept.sort();
            fresh.sort();
            assert_eq!(kept, fresh);
        }
        assert!(matches!(
            &*MEMO.lock().unwrap(),
            Memo::Kept { .. } | Memo::Once
        ));
        assert!(ipv4().unwrap().contains(&[127, 0, 0, 1]));
    }
}
