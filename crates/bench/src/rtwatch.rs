//! Counting the prefixes of a [`PrefixPlan`] present in a namespace's main routing table,
//! from rtnetlink: a multicast listener (`RTMGRP_IPV4_ROUTE`) that follows additions and
//! removals as the kernel makes them, and a table dump that checks the final count.
//!
//! Only what is needed is parsed by hand: `nlmsghdr`, `rtmsg` and the `RTA_DST` and
//! `RTA_TABLE` attributes (rtnetlink(7)).

use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{
    bind, recv, send, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr, SockFlag,
    SockProtocol, SockType,
};

use crate::accounting::Held;
use crate::stream::PrefixPlan;

const NLMSG_HDR: usize = 16;
const RTMSG: usize = 12;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTM_GETROUTE: u16 = 26;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const RTMGRP_IPV4_ROUTE: u32 = 0x40;
const RTA_DST: u16 = 1;
const RTA_TABLE: u16 = 15;
const RT_TABLE_MAIN: u32 = 254;
const AF_INET: u8 = 2;
const RTN_UNICAST: u8 = 1;

/// Errors of the route watcher.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// A socket call failed.
    #[error("rtnetlink {what}: {source}")]
    Socket {
        /// Which call.
        what: &'static str,
        /// Why.
        source: nix::Error,
    },
    /// The kernel dropped notifications (the socket's buffer overflowed).
    #[error("rtnetlink notifications were lost (ENOBUFS): the listener fell behind the kernel")]
    Overflow,
    /// The kernel answered a dump with an error.
    #[error("rtnetlink dump failed with errno {0}")]
    Dump(i32),
}

fn sock_err(what: &'static str) -> impl FnOnce(nix::Error) -> WatchError {
    move |source| WatchError::Socket { what, source }
}

/// One route message of interest: an IPv4 unicast route of the main table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteMsg {
    /// Added (true) or removed.
    pub added: bool,
    /// Destination.
    pub prefix: bgp_wire::Ipv4Prefix,
}

/// Parses every netlink message in `buf`; calls `f` for IPv4 unicast routes of the main
/// table. Returns `Some(errno)` for an error message, and whether `NLMSG_DONE` was seen.
pub fn parse(buf: &[u8], mut f: impl FnMut(RouteMsg)) -> (bool, Option<i32>) {
    let mut at = 0;
    while buf.len() - at >= NLMSG_HDR {
        let h = &buf[at..];
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let kind = u16::from_ne_bytes([h[4], h[5]]);
        if len < NLMSG_HDR || len > h.len() {
            break;
        }
        let body = &h[NLMSG_HDR..len];
        match kind {
            NLMSG_DONE => return (true, None),
            NLMSG_ERROR if body.len() >= 4 => {
                let e = i32::from_ne_bytes([body[0], body[1], body[2], body[3]]);
                if e != 0 {
                    return (false, Some(-e));
                }
            }
            RTM_NEWROUTE | RTM_DELROUTE => {
                if let Some(prefix) = route_prefix(body) {
                    f(RouteMsg {
                        added: kind == RTM_NEWROUTE,
                        prefix,
                    });
                }
            }
            _ => {}
        }
        at += (len + 3) & !3;
    }
    (false, None)
}

/// The destination of an IPv4 unicast route of the main table.
fn route_prefix(body: &[u8]) -> Option<bgp_wire::Ipv4Prefix> {
    if body.len() < RTMSG || body[0] != AF_INET || body[7] != RTN_UNICAST {
        return None;
    }
    let dst_len = body[1];
    let mut table = u32::from(body[4]);
    let mut dst = None;
    let mut attrs = &body[RTMSG..];
    while attrs.len() >= 4 {
        let len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]);
        if len < 4 || len > attrs.len() {
            break;
        }
        let v = &attrs[4..len];
        match (kind, v.len()) {
            (RTA_DST, 4) => dst = Some(std::net::Ipv4Addr::new(v[0], v[1], v[2], v[3])),
            (RTA_TABLE, 4) => table = u32::from_ne_bytes([v[0], v[1], v[2], v[3]]),
            _ => {}
        }
        attrs = &attrs[((len + 3) & !3).min(attrs.len())..];
    }
    if table != RT_TABLE_MAIN {
        return None;
    }
    bgp_wire::Ipv4Prefix::new(dst.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED), dst_len)
}

fn netlink_socket(groups: u32) -> Result<OwnedFd, WatchError> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )
    .map_err(sock_err("socket"))?;
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, groups)).map_err(sock_err("bind"))?;
    Ok(fd)
}

/// A listener of the calling thread's namespace's IPv4 route changes.
pub struct Listener {
    fd: OwnedFd,
    buf: Vec<u8>,
}

impl Listener {
    /// Subscribes to IPv4 route notifications with a receive buffer of `rcvbuf` bytes
    /// (forced past `rmem_max`: the kernel sends one notification per route).
    pub fn new(rcvbuf: usize) -> Result<Self, WatchError> {
        let fd = netlink_socket(RTMGRP_IPV4_ROUTE)?;
        setsockopt(&fd, sockopt::RcvBufForce, &rcvbuf).map_err(sock_err("SO_RCVBUFFORCE"))?;
        setsockopt(
            &fd,
            sockopt::ReceiveTimeout,
            &nix::sys::time::TimeVal::new(0, 100_000),
        )
        .map_err(sock_err("SO_RCVTIMEO"))?;
        Ok(Listener {
            fd,
            buf: vec![0; 1 << 20],
        })
    }

    /// Waits up to 100 ms for notifications and applies them to `held`. Returns the
    /// number of route messages applied.
    pub fn poll(&mut self, held: &mut Held) -> Result<usize, WatchError> {
        match recv(self.fd.as_raw_fd(), &mut self.buf, MsgFlags::empty()) {
            Ok(n) => {
                let mut count = 0;
                parse(&self.buf[..n], |m| {
                    count += 1;
                    apply(held, m);
                });
                Ok(count)
            }
            Err(nix::Error::EAGAIN | nix::Error::EINTR) => Ok(0),
            Err(nix::Error::ENOBUFS) => Err(WatchError::Overflow),
            Err(e) => Err(sock_err("recv")(e)),
        }
    }
}

fn apply(held: &mut Held, m: RouteMsg) {
    let p = bgp_wire::Prefix::V4(m.prefix);
    if m.added {
        held.announce(p);
    } else {
        held.withdraw(p);
    }
}

/// Dumps the main table of the calling thread's namespace; returns how many prefixes of
/// `plan` it holds.
pub fn dump_count(plan: PrefixPlan) -> Result<u32, WatchError> {
    let fd = netlink_socket(0)?;
    let mut req = Vec::with_capacity(NLMSG_HDR + RTMSG);
    req.extend_from_slice(&((NLMSG_HDR + RTMSG) as u32).to_ne_bytes());
    req.extend_from_slice(&RTM_GETROUTE.to_ne_bytes());
    req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes());
    req.extend_from_slice(&[AF_INET, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    send(fd.as_raw_fd(), &req, MsgFlags::empty()).map_err(sock_err("send"))?;
    let mut held = Held::new(plan);
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()).map_err(sock_err("recv"))?;
        let (done, err) = parse(&buf[..n], |m| apply(&mut held, m));
        if let Some(e) = err {
            return Err(WatchError::Dump(e));
        }
        if done || n == 0 {
            return Ok(held.held());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(kind: u16, table: u8, dst: [u8; 4], len: u8, extra_table: Option<u32>) -> Vec<u8> {
        let mut body = vec![AF_INET, len, 0, 0, table, 186, 0, RTN_UNICAST, 0, 0, 0, 0];
        body.extend_from_slice(&8u16.to_ne_bytes());
        body.extend_from_slice(&RTA_DST.to_ne_bytes());
        body.extend_from_slice(&dst);
        if let Some(t) = extra_table {
            body.extend_from_slice(&8u16.to_ne_bytes());
            body.extend_from_slice(&RTA_TABLE.to_ne_bytes());
            body.extend_from_slice(&t.to_ne_bytes());
        }
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDR + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&body);
        m
    }

    #[test]
    fn main_table_ipv4_routes_are_reported_and_others_ignored() {
        let mut buf = route(RTM_NEWROUTE, 254, [16, 0, 1, 0], 24, None);
        buf.extend(route(RTM_NEWROUTE, 100, [16, 0, 2, 0], 24, None));
        buf.extend(route(RTM_NEWROUTE, 252, [16, 0, 3, 0], 24, Some(254)));
        buf.extend(route(RTM_DELROUTE, 254, [16, 0, 1, 0], 24, None));
        let mut got = Vec::new();
        let (done, err) = parse(&buf, |m| got.push((m.added, m.prefix.to_string())));
        assert!(!done && err.is_none());
        assert_eq!(
            got,
            vec![
                (true, "16.0.1.0/24".to_string()),
                (true, "16.0.3.0/24".to_string()),
                (false, "16.0.1.0/24".to_string())
            ]
        );
    }

    #[test]
    fn truncated_and_error_messages_end_the_parse_without_panicking() {
        let buf = route(RTM_NEWROUTE, 254, [16, 0, 1, 0], 24, None);
        for cut in 0..buf.len() {
            let _ = parse(&buf[..cut], |_| {});
        }
        let mut err = Vec::new();
        err.extend_from_slice(&20u32.to_ne_bytes());
        err.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        err.extend_from_slice(&[0; 10]);
        err.extend_from_slice(&(-22i32).to_ne_bytes());
        assert_eq!(parse(&err, |_| {}), (false, Some(22)));
    }
}
