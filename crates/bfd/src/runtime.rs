//! Single-hop (RFC 5881) and multihop (RFC 5883) BFD sessions over UDP on tokio.
//!
//! One task owns every session: it receives Control packets on port 3784 (single hop) and
//! 4784 (multihop), IPv4 and IPv6; keeps single-hop packets only if they arrive with TTL /
//! Hop Limit 255 (RFC 5881 §5) and multihop ones if it is at least the session's minimum
//! (RFC 5883 §5, FRR's `minimum-ttl`, 254 by default); hands them to their session (by
//! Your Discriminator, or by source address while the peer does not know ours, RFC 5880
//! §6.8.6), the port telling the two kinds apart; sends what the sessions ask from a
//! socket per session (source port in 49152–65535, TTL 255, RFC 5881 §4) and reports
//! state changes through a callback. Sessions leaving (reconfigured away, or the task
//! ending) send AdminDown once (RFC 5880 §6.8.16), so the peer does not take it for a
//! failure.

use std::collections::HashMap;
use std::io::IoSliceMut;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use nix::sys::socket::{self, sockopt, ControlMessageOwned, MsgFlags, SockaddrStorage};
use serde::{Deserialize, Serialize};
use socket2::{Domain, Protocol, Socket, Type};
use thiserror::Error;
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::auth::{self, AuthKey, AuthState, AuthType};
use crate::packet::{ControlPacket, Diag, PacketError, SessionState, CONTROL_PORT, MULTIHOP_PORT};
use crate::session::{Counters, Output, Session, SessionConfig};

/// Errors of the BFD runtime.
#[derive(Debug, Error)]
pub enum BfdError {
    /// The receive socket could not be set up.
    #[error("BFD: cannot listen on UDP port {port} ({family}): {source}")]
    Listen {
        /// 3784.
        port: u16,
        /// "IPv4" or "IPv6".
        family: &'static str,
        /// The system's error.
        source: std::io::Error,
    },
    /// The task has ended.
    #[error("BFD: the session task has ended")]
    Gone,
    /// The task's command queue is full, or the task has ended.
    #[error("BFD: the session task does not take commands (queue full or ended)")]
    Busy,
}

/// The Detection Time assumed for the §6.8.1 sequence reset until the peer's is known:
/// 1 s packets, multiplier 3.
const SLOW_DETECTION: Duration = Duration::from_secs(3);

/// One session to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerSpec {
    /// The peer's address.
    pub peer: IpAddr,
    /// Our source address; the kernel picks one if `None` (a multihop session should
    /// have one: RFC 5883 §3 identifies it by both addresses).
    pub local: Option<IpAddr>,
    /// The interface of an IPv6 link-local peer.
    pub interface: Option<String>,
    /// Single hop or multihop.
    pub hops: Hops,
    /// Authentication (RFC 5880 §6.7): every packet is signed and every packet received
    /// must pass; `None`: packets with the A bit are dropped.
    pub auth: Option<AuthKey>,
    /// Timers and role.
    pub config: SessionConfig,
}

/// Whether the peer is on the link (RFC 5881) or further away (RFC 5883).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hops {
    /// On the link: port 3784, packets must arrive with TTL 255.
    #[default]
    Single,
    /// Routed: port 4784, packets must arrive with at least this TTL.
    Multi {
        /// The lowest TTL / Hop Limit accepted (255 minus the hops allowed).
        #[serde(rename = "minimum-ttl")]
        minimum_ttl: u8,
    },
}

impl Hops {
    fn port(self) -> u16 {
        match self {
            Hops::Single => CONTROL_PORT,
            Hops::Multi { .. } => MULTIHOP_PORT,
        }
    }

    /// Whether a packet that arrived with `ttl` on the port of `multihop` belongs here.
    fn accepts(self, multihop: bool, ttl: Option<i32>) -> bool {
        match self {
            Hops::Single => !multihop && ttl == Some(255),
            Hops::Multi { minimum_ttl } => {
                multihop && ttl.is_some_and(|t| t >= i32::from(minimum_ttl))
            }
        }
    }
}

/// A session's state change, as reported to the client protocol (RFC 5882).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// The peer.
    pub peer: IpAddr,
    /// The state before.
    pub from: SessionState,
    /// The state now.
    pub to: SessionState,
    /// Why.
    pub diag: Diag,
    /// The peer's last state (AdminDown: it took the session down on purpose, which is no
    /// failure, RFC 5882 §3.2).
    pub remote: SessionState,
}

/// A session as `show bfd peers` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PeerStatus {
    /// The peer.
    pub peer: IpAddr,
    /// Our configured source address.
    pub local: Option<IpAddr>,
    /// Single hop or multihop.
    pub hops: Hops,
    /// bfd.AuthType (RFC 5880 §6.8.1), when the packets are authenticated.
    #[serde(default)]
    pub authentication: Option<AuthType>,
    /// bfd.SessionState.
    pub state: SessionState,
    /// bfd.RemoteSessionState.
    pub remote_state: SessionState,
    /// Seconds in this state.
    pub since_secs: u64,
    /// bfd.LocalDiscr.
    pub local_discriminator: u32,
    /// bfd.RemoteDiscr.
    pub remote_discriminator: u32,
    /// bfd.LocalDiag, named.
    pub diagnostic: String,
    /// Configured Desired Min TX (ms).
    pub desired_min_tx_ms: u64,
    /// Configured Required Min RX (ms).
    pub required_min_rx_ms: u64,
    /// bfd.DetectMult.
    pub detect_mult: u8,
    /// The transmit interval in use, before jitter (ms).
    pub tx_interval_ms: u64,
    /// The Detection Time (ms), once the peer has been heard.
    pub detection_time_ms: Option<u64>,
    /// Packet counters and transitions.
    pub counters: Counters,
}

/// The receiving end of state changes.
pub type Notify = Box<dyn Fn(Event) + Send + Sync>;

enum Command {
    Set(Vec<PeerSpec>),
    Status(oneshot::Sender<Vec<PeerStatus>>),
}

/// A handle on the BFD task; dropping it ends the task (after AdminDown to every peer).
#[derive(Debug, Clone)]
pub struct Bfd {
    tx: mpsc::Sender<Command>,
}

impl Bfd {
    /// Binds ports 3784 and 4784 and starts the task on the current tokio runtime. Only
    /// IPv4 single hop is required: without IPv6 or the multihop port, those sessions
    /// stay down (and say so in the log).
    pub fn spawn(notify: Notify) -> Result<Bfd, BfdError> {
        let v4 = listen(IpAddr::V4(Ipv4Addr::UNSPECIFIED), CONTROL_PORT).map_err(|source| {
            BfdError::Listen {
                port: CONTROL_PORT,
                family: "IPv4",
                source,
            }
        })?;
        let optional = |any: IpAddr, port: u16| match listen(any, port) {
            Ok(s) => Some(s),
            Err(e) => {
                warn!(error = %e, %port, family = if any.is_ipv4() { "IPv4" } else { "IPv6" },
                    "BFD: no listener; the sessions it serves will not come up");
                None
            }
        };
        let sockets = Listeners {
            single: [
                Some(v4),
                optional(IpAddr::V6(Ipv6Addr::UNSPECIFIED), CONTROL_PORT),
            ],
            multi: [
                optional(IpAddr::V4(Ipv4Addr::UNSPECIFIED), MULTIHOP_PORT),
                optional(IpAddr::V6(Ipv6Addr::UNSPECIFIED), MULTIHOP_PORT),
            ],
        };
        let (tx, rx) = mpsc::channel(64);
        let task = Task {
            sessions: HashMap::new(),
            by_disc: HashMap::new(),
            next_disc: fastrand::u32(1..u32::MAX / 2),
            notify,
        };
        tokio::spawn(task.run(rx, sockets));
        Ok(Bfd { tx })
    }

    /// Makes the running sessions those of `peers`: new ones start in Down, changed
    /// timers are applied (through a Poll Sequence when Up), missing ones end. Does not
    /// wait, so that the caller never blocks; commands are applied in the order given.
    pub fn set_peers(&self, peers: Vec<PeerSpec>) -> Result<(), BfdError> {
        self.tx
            .try_send(Command::Set(peers))
            .map_err(|_| BfdError::Busy)
    }

    /// Every session, by peer address.
    pub async fn status(&self) -> Result<Vec<PeerStatus>, BfdError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Command::Status(tx))
            .await
            .map_err(|_| BfdError::Gone)?;
        rx.await.map_err(|_| BfdError::Gone)
    }
}

/// The receive sockets: single hop and multihop, IPv4 and IPv6.
struct Listeners {
    single: [Option<UdpSocket>; 2],
    multi: [Option<UdpSocket>; 2],
}

/// Waits until `s` is readable; never for a missing socket.
async fn readable(s: &Option<UdpSocket>) -> bool {
    match s {
        Some(s) => s.readable().await.is_ok(),
        None => std::future::pending().await,
    }
}

/// The receive socket of one family and port, reporting the TTL of each datagram.
fn listen(any: IpAddr, port: u16) -> std::io::Result<UdpSocket> {
    let domain = if any.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if any.is_ipv6() {
        s.set_only_v6(true)?;
        socket::setsockopt(&s, sockopt::Ipv6RecvHopLimit, &true)?;
    } else {
        socket::setsockopt(&s, sockopt::Ipv4RecvTtl, &true)?;
    }
    s.set_reuse_address(true)?;
    s.bind(&SocketAddr::new(any, port).into())?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s.into())
}

/// The send socket of one session: TTL 255, bound to a source port in 49152–65535.
/// Non-blocking and outside tokio: a datagram goes out at once or is dropped (and BFD
/// copes with loss), and no readiness has to be awaited first.
fn sender(spec: &PeerSpec) -> std::io::Result<std::net::UdpSocket> {
    let domain = if spec.peer.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    if spec.peer.is_ipv4() {
        s.set_ttl(255)?;
    } else {
        s.set_unicast_hops_v6(255)?;
    }
    let local = spec.local.unwrap_or(match spec.peer {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    });
    // From a random port on, 64 tries spread over the range.
    let start = fastrand::u16(0..16384);
    let mut bound = Err(std::io::Error::from(std::io::ErrorKind::AddrInUse));
    for i in 0..64u16 {
        let port = 49152 + (start + i * 257) % 16384;
        bound = s.bind(&SocketAddr::new(local, port).into());
        if bound.is_ok() {
            break;
        }
    }
    bound?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

struct Running {
    spec: PeerSpec,
    session: Session,
    /// Sequence numbers of an authenticated session.
    auth: AuthState,
    socket: Option<std::net::UdpSocket>,
    dest: SocketAddr,
}

struct Task {
    sessions: HashMap<IpAddr, Running>,
    /// Our discriminator of each session, to its peer (RFC 5880 §6.8.6 demultiplexing).
    by_disc: HashMap<u32, IpAddr>,
    next_disc: u32,
    notify: Notify,
}

impl Task {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>, l: Listeners) {
        loop {
            let deadline = self
                .sessions
                .values()
                .filter_map(|r| r.session.next_deadline())
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Command::Set(peers)) => self.set(peers),
                    Some(Command::Status(reply)) => {
                        let _ = reply.send(self.status());
                    }
                    None => break,
                },
                true = readable(&l.single[0]) => self.receive(&l.single[0], false),
                true = readable(&l.single[1]) => self.receive(&l.single[1], false),
                true = readable(&l.multi[0]) => self.receive(&l.multi[0], true),
                true = readable(&l.multi[1]) => self.receive(&l.multi[1], true),
                _ = tokio::time::sleep_until(deadline.into()) => {}
            }
            self.tick();
        }
        // Leaving: AdminDown to every peer (RFC 5880 §6.8.16).
        let peers: Vec<IpAddr> = self.sessions.keys().copied().collect();
        for p in peers {
            self.remove(p);
        }
    }

    fn set(&mut self, peers: Vec<PeerSpec>) {
        let now = Instant::now();
        let keep: Vec<IpAddr> = peers.iter().map(|p| p.peer).collect();
        let gone: Vec<IpAddr> = self
            .sessions
            .keys()
            .filter(|p| !keep.contains(p))
            .copied()
            .collect();
        for p in gone {
            self.remove(p);
        }
        for spec in peers {
            match self.sessions.get_mut(&spec.peer) {
                Some(r)
                    if r.spec.local == spec.local
                        && r.spec.interface == spec.interface
                        && r.spec.hops.port() == spec.hops.port()
                        && r.spec.auth == spec.auth =>
                {
                    if r.spec.config != spec.config {
                        r.session.reconfigure(spec.config, now);
                    }
                    // A new minimum TTL applies to the next packet.
                    r.spec = spec;
                }
                _ => {
                    self.remove(spec.peer);
                    self.add(spec, now);
                }
            }
        }
    }

    fn add(&mut self, spec: PeerSpec, now: Instant) {
        self.next_disc = self.next_disc.wrapping_add(1).max(1);
        let disc = self.next_disc;
        let socket = match sender(&spec) {
            Ok(s) => Some(s),
            Err(e) => {
                warn!(peer = %spec.peer, error = %e, "BFD: cannot open the session's socket; it stays down");
                None
            }
        };
        let scope = spec
            .interface
            .as_deref()
            .and_then(|i| nix::net::if_::if_nametoindex(i).ok())
            .unwrap_or(0);
        let port = spec.hops.port();
        let dest = match spec.peer {
            IpAddr::V4(a) => SocketAddr::new(IpAddr::V4(a), port),
            IpAddr::V6(a) => SocketAddr::V6(SocketAddrV6::new(a, port, 0, scope)),
        };
        info!(peer = %spec.peer, discriminator = disc, hops = ?spec.hops, "BFD: session added");
        let session = Session::new(spec.config, disc, now);
        self.by_disc.insert(disc, spec.peer);
        self.sessions.insert(
            spec.peer,
            Running {
                spec,
                session,
                auth: AuthState::new(),
                socket,
                dest,
            },
        );
    }

    fn remove(&mut self, peer: IpAddr) {
        let Some(mut r) = self.sessions.remove(&peer) else {
            return;
        };
        self.by_disc.remove(&r.session.local_disc());
        let now = Instant::now();
        // One AdminDown packet on the way out; the client is not told.
        let out = r.session.admin_down(now);
        send_all(&mut r, &out);
        info!(%peer, "BFD: session removed");
    }

    fn receive(&mut self, sock: &Option<UdpSocket>, multihop: bool) {
        let Some(sock) = sock else { return };
        let fd = sock.as_raw_fd();
        loop {
            let mut buf = [0u8; 128];
            let mut cmsg = nix::cmsg_space!(libc_int);
            let got = sock.try_io(Interest::READABLE, || {
                let mut iov = [IoSliceMut::new(&mut buf)];
                let m = socket::recvmsg::<SockaddrStorage>(
                    fd,
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::empty(),
                )
                .map_err(std::io::Error::from)?;
                let ttl = m.cmsgs().ok().and_then(|mut c| {
                    c.find_map(|c| match c {
                        ControlMessageOwned::Ipv4Ttl(t) | ControlMessageOwned::Ipv6HopLimit(t) => {
                            Some(t)
                        }
                        _ => None,
                    })
                });
                let from = m.address.and_then(|a: SockaddrStorage| {
                    a.as_sockaddr_in()
                        .map(|s| IpAddr::V4(s.ip()))
                        .or_else(|| a.as_sockaddr_in6().map(|s| IpAddr::V6(s.ip())))
                });
                Ok((m.bytes, ttl, from))
            });
            let (n, ttl, from) = match got {
                Ok(v) => v,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    warn!(error = %e, "BFD: receive failed");
                    return;
                }
            };
            let Some(from) = from else { continue };
            let p = match ControlPacket::decode_authenticated(&buf[..n]) {
                Ok(p) => p,
                Err(e) => {
                    debug!(%from, error = %e, "BFD: packet dropped");
                    continue;
                }
            };
            self.deliver(from, multihop, ttl, p, &buf[..n]);
        }
    }

    fn deliver(
        &mut self,
        from: IpAddr,
        multihop: bool,
        ttl: Option<i32>,
        (p, signed): (ControlPacket, bool),
        datagram: &[u8],
    ) {
        let key = if p.your_disc != 0 {
            self.by_disc.get(&p.your_disc).copied()
        } else {
            self.sessions.contains_key(&from).then_some(from)
        };
        let Some(key) = key else {
            debug!(%from, your = p.your_disc, "BFD: packet for no session dropped (RFC 5880 §6.8.6)");
            return;
        };
        let now = Instant::now();
        let Some(r) = self.sessions.get_mut(&key) else {
            return;
        };
        if !r.spec.hops.accepts(multihop, ttl) {
            debug!(%from, ?ttl, multihop, hops = ?r.spec.hops,
                "BFD: packet dropped: wrong port or TTL for the session (RFC 5881 §5, RFC 5883 §5)");
            return;
        }
        match &r.spec.auth {
            Some(key) => {
                // Before the peer's timers are known, as at the slow rate of §6.8.3.
                let dt = r.session.detection_time().or(Some(SLOW_DETECTION));
                if let Err(e) = auth::verify(key, &mut r.auth, datagram, now, dt) {
                    debug!(%from, error = %e, "BFD: packet dropped");
                    return;
                }
            }
            None if signed => {
                debug!(%from, error = %PacketError::Authentication, "BFD: packet dropped");
                return;
            }
            None => {}
        }
        let out = r.session.receive(&p, now);
        self.handle(key, out);
    }

    fn tick(&mut self) {
        let now = Instant::now();
        let keys: Vec<IpAddr> = self
            .sessions
            .iter()
            .filter(|(_, r)| r.session.next_deadline().is_some_and(|d| d <= now))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            if let Some(r) = self.sessions.get_mut(&k) {
                let out = r.session.tick(now);
                self.handle(k, out);
            }
        }
    }

    fn handle(&mut self, key: IpAddr, out: Vec<Output>) {
        let Some(r) = self.sessions.get_mut(&key) else {
            return;
        };
        send_all(r, &out);
        for o in out {
            if let Output::StateChange { from, to, diag } = o {
                info!(peer = %key, %from, %to, %diag, "BFD: session state changed");
                (self.notify)(Event {
                    peer: key,
                    from,
                    to,
                    diag,
                    remote: r.session.remote_state(),
                });
            }
        }
    }

    fn status(&self) -> Vec<PeerStatus> {
        let now = Instant::now();
        let ms = |d: Duration| d.as_millis() as u64;
        let mut v: Vec<PeerStatus> = self
            .sessions
            .values()
            .map(|r| {
                let s = &r.session;
                PeerStatus {
                    peer: r.spec.peer,
                    local: r.spec.local,
                    hops: r.spec.hops,
                    authentication: r.spec.auth.as_ref().map(AuthKey::kind),
                    state: s.state(),
                    remote_state: s.remote_state(),
                    since_secs: now.saturating_duration_since(s.since()).as_secs(),
                    local_discriminator: s.local_disc(),
                    remote_discriminator: s.remote_disc(),
                    diagnostic: s.diag().name().to_string(),
                    desired_min_tx_ms: ms(s.config().desired_min_tx),
                    required_min_rx_ms: ms(s.config().required_min_rx),
                    detect_mult: s.config().detect_mult,
                    tx_interval_ms: ms(s.tx_interval()),
                    detection_time_ms: s.detection_time().map(ms),
                    counters: s.counters(),
                }
            })
            .collect();
        v.sort_by_key(|p| p.peer);
        v
    }
}

/// The `c_int` a TTL control message carries (for `cmsg_space!`).
#[allow(non_camel_case_types)]
type libc_int = i32;

fn send_all(r: &mut Running, out: &[Output]) {
    let Some(sock) = &r.socket else { return };
    for o in out {
        if let Output::Send(p) = o {
            let sent = match &r.spec.auth {
                Some(key) => sock.send_to(&auth::sign(key, &mut r.auth, &p.encode()), r.dest),
                None => sock.send_to(&p.encode(), r.dest),
            };
            if let Err(e) = sent {
                debug!(peer = %r.spec.peer, error = %e, "BFD: send failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_hop_session_takes_only_ttl_255_on_port_3784() {
        assert!(Hops::Single.accepts(false, Some(255)));
        assert!(!Hops::Single.accepts(false, Some(254)), "one hop away");
        assert!(!Hops::Single.accepts(false, None), "TTL unknown");
        assert!(!Hops::Single.accepts(true, Some(255)), "multihop port");
        assert_eq!(Hops::Single.port(), 3784);
    }

    #[test]
    fn a_multihop_session_takes_its_minimum_ttl_or_more_on_port_4784() {
        let h = Hops::Multi { minimum_ttl: 254 };
        assert!(h.accepts(true, Some(255)));
        assert!(h.accepts(true, Some(254)));
        assert!(!h.accepts(true, Some(253)), "too many hops");
        assert!(!h.accepts(false, Some(255)), "single-hop port");
        assert_eq!(h.port(), 4784);
    }
}
