//! ICMP echo from inside a namespace, in-process (a raw socket opened in the node's network
//! namespace): fast enough to ping every pair of a lab at once.

use std::net::{IpAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    recvfrom, sendto, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType,
    SockaddrIn, SockaddrIn6, SockaddrStorage,
};

use super::{netns, RtError};

/// The outcome for one target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ping {
    /// An echo reply came back.
    pub reached: bool,
    /// Round-trip time of the first reply.
    pub rtt: Option<Duration>,
    /// An ICMP error about our probe (e.g. "host unreachable from 10.0.1.1").
    pub error: Option<String>,
}

/// Pings every target from the namespace `ns` (3 tries, `timeout` in all).
pub fn ping_all(
    ns: BorrowedFd<'_>,
    targets: &[IpAddr],
    timeout: Duration,
) -> Result<Vec<Ping>, RtError> {
    let need4 = targets.iter().any(IpAddr::is_ipv4);
    let need6 = targets.iter().any(IpAddr::is_ipv6);
    let (s4, s6) = netns::in_netns(
        ns,
        || -> Result<(Option<OwnedFd>, Option<OwnedFd>), RtError> {
            let open = |fam, proto| {
                socket(
                    fam,
                    SockType::Raw,
                    SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
                    proto,
                )
                .map_err(|e| RtError::sys("open raw ICMP socket", e))
            };
            Ok((
                if need4 {
                    Some(open(AddressFamily::Inet, SockProtocol::Icmp)?)
                } else {
                    None
                },
                if need6 {
                    Some(open(AddressFamily::Inet6, SockProtocol::IcmpV6)?)
                } else {
                    None
                },
            ))
        },
    )??;
    let id: u16 = (std::process::id() as u16)
        ^ (targets.len() as u16).rotate_left(7)
        ^ (Instant::now().elapsed().subsec_nanos() as u16);
    let mut out = vec![Ping::default(); targets.len()];
    let mut sent_at = vec![Instant::now(); targets.len()];
    let start = Instant::now();
    let tries = 3u32;
    let mut next_try = 0;
    let mut buf = [0u8; 2048];
    while start.elapsed() < timeout {
        if next_try < tries && start.elapsed() >= timeout / tries * next_try {
            for (i, t) in targets.iter().enumerate() {
                if out[i].reached {
                    continue;
                }
                let seq = i as u16;
                sent_at[i] = Instant::now();
                let _ = match (t, &s4, &s6) {
                    (IpAddr::V4(a), Some(s), _) => sendto(
                        s.as_raw_fd(),
                        &echo(8, id, seq),
                        &SockaddrIn::from(SocketAddrV4::new(*a, 0)),
                        MsgFlags::empty(),
                    ),
                    (IpAddr::V6(a), _, Some(s)) => sendto(
                        s.as_raw_fd(),
                        &echo(128, id, seq),
                        &SockaddrIn6::from(SocketAddrV6::new(*a, 0, 0, 0)),
                        MsgFlags::empty(),
                    ),
                    _ => continue,
                };
            }
            next_try += 1;
        }
        if out.iter().all(|p| p.reached) {
            break;
        }
        let mut fds: Vec<PollFd<'_>> = Vec::new();
        for s in [&s4, &s6].into_iter().flatten() {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
        }
        let _ = poll(&mut fds, PollTimeout::from(50u16));
        for (s, v6) in [(&s4, false), (&s6, true)] {
            let Some(s) = s else { continue };
            while let Ok((n, from)) = recvfrom::<SockaddrStorage>(s.as_raw_fd(), &mut buf) {
                let from_ip = from.and_then(|f| {
                    f.as_sockaddr_in()
                        .map(|a| IpAddr::V4(a.ip()))
                        .or_else(|| f.as_sockaddr_in6().map(|a| IpAddr::V6(a.ip())))
                });
                let msg = if v6 { &buf[..n] } else { strip_ipv4(&buf[..n]) };
                if let Some((i, reply)) = parse(msg, v6, id) {
                    if i >= targets.len() || out[i].reached {
                        continue;
                    }
                    match reply {
                        Reply::Echo if from_ip == Some(targets[i]) => {
                            out[i].reached = true;
                            out[i].rtt = Some(sent_at[i].elapsed());
                            out[i].error = None;
                        }
                        Reply::Echo => {}
                        Reply::Error(what) => {
                            let by = from_ip.map(|f| format!(" from {f}")).unwrap_or_default();
                            out[i].error = Some(format!("{what}{by}"));
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

fn echo(kind: u8, id: u16, seq: u16) -> Vec<u8> {
    let mut p = vec![kind, 0, 0, 0];
    p.extend(id.to_be_bytes());
    p.extend(seq.to_be_bytes());
    p.extend(b"bgplane!");
    if kind == 8 {
        let c = checksum(&p);
        p[2..4].copy_from_slice(&c.to_be_bytes());
    }
    p
}

/// The Internet checksum (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = if chunk.len() == 2 {
            u16::from_be_bytes([chunk[0], chunk[1]])
        } else {
            u16::from(chunk[0]) << 8
        };
        sum += u32::from(word);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn strip_ipv4(b: &[u8]) -> &[u8] {
    let ihl = usize::from(b.first().copied().unwrap_or(0) & 0x0f) * 4;
    b.get(ihl..).unwrap_or(&[])
}

enum Reply {
    Echo,
    Error(&'static str),
}

/// (target index, what) for replies and errors about our own probes.
fn parse(m: &[u8], v6: bool, id: u16) -> Option<(usize, Reply)> {
    let kind = *m.first()?;
    let code = *m.get(1)?;
    let ours = |b: &[u8]| -> Option<usize> {
        let got = u16::from_be_bytes([*b.get(4)?, *b.get(5)?]);
        (got == id).then(|| usize::from(u16::from_be_bytes([b[6], b[7]])))
    };
    match (v6, kind) {
        (false, 0) | (true, 129) => ours(m).map(|i| (i, Reply::Echo)),
        (false, 3) | (false, 11) | (true, 1) | (true, 3) => {
            let inner = m.get(8..)?;
            let inner = if v6 {
                inner.get(40..)?
            } else {
                strip_ipv4(inner)
            };
            let what = match (v6, kind, code) {
                (false, 11, _) | (true, 3, _) => "TTL exceeded",
                (false, 3, 0) | (true, 1, 0) => "network unreachable",
                (false, 3, 1) | (true, 1, 3) => "host unreachable",
                (false, 3, 13) | (true, 1, 1) => "administratively prohibited",
                _ => "destination unreachable",
            };
            ours(inner).map(|i| (i, Reply::Error(what)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_echo_verifies() {
        let p = echo(8, 0x1234, 7);
        assert_eq!(checksum(&p), 0, "a packet with its checksum sums to zero");
        assert!(matches!(
            parse(
                &{
                    let mut r = p.clone();
                    r[0] = 0;
                    r
                },
                false,
                0x1234
            ),
            Some((7, Reply::Echo))
        ));
        assert!(parse(&p, false, 0x9999).is_none());
    }
}
