//! The task that drives one peer's sessions: TCP connections, the FSM of each, timers with
//! jitter, connection collisions (RFC 4271 §6.8), idle hold-down with backoff.
//!
//! UPDATE and ROUTE-REFRESH messages go to the speaker actor in batches; what the actor
//! wants sent arrives as ready-made bytes.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bgp_wire::notification::codes;
use bgp_wire::{encode_keepalive, frame, Family, Frame, MessageType, Notification, RouteRefresh};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpSocket, TcpStream};

use tokio::sync::{mpsc, Semaphore};
use tokio::time::{sleep_until, Instant};
use tracing::{debug, info, warn};

use crate::fsm::{Action, BfdPending, DownReason, Event, State, Timer};
use crate::negotiate::{Negotiated, SessionParams};
use crate::rib::table::PeerId;

/// Which session task a message is from: the peer, and a token unique to the task, so that
/// late messages of a task that was replaced (the peer removed and added again under the
/// same id) are told apart and dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId {
    /// Peer id in the speaker.
    pub peer: PeerId,
    /// The task's token.
    pub token: u64,
}

/// What a session task needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSpec {
    /// The peer and the task's token.
    pub id: SessionId,
    /// The peer's address and port.
    pub remote: SocketAddr,
    /// Source address for our connections.
    pub local_addr: Option<IpAddr>,
    /// Wait for the peer to connect.
    pub passive: bool,
    /// IP TTL / hop limit of the session's packets (eBGP: 1 unless multihop; 255 with
    /// GTSM).
    pub ttl: Option<u8>,
    /// GTSM (RFC 5082): the lowest TTL accepted from the peer.
    pub min_ttl: Option<u8>,
    /// TCP MD5 signature key (RFC 2385).
    pub password: Option<String>,
    /// OPEN parameters.
    pub params: SessionParams,
    /// ConnectRetry time in seconds.
    pub connect_retry: u32,
    /// Administratively down, with an optional shutdown communication.
    pub shutdown: Option<String>,
    /// The BFD session is Up when the task starts (strict mode waits for it otherwise).
    pub bfd_up: bool,
    /// BfdHoldTime in seconds (draft-ietf-idr-bgp-bfd-strict-mode §3).
    pub bfd_hold_time: u32,
}

/// Commands from the actor.
#[derive(Debug)]
pub enum ToSession {
    /// An accepted connection from the peer.
    Incoming(TcpStream),
    /// Bytes to send on the Established connection; the task answers with `Drained`.
    Send(Vec<u8>),
    /// The actor found a malformed message: reset with this NOTIFICATION.
    UpdateError(Notification),
    /// Stop (with a NOTIFICATION if connected) and stay down.
    Stop(Option<Notification>),
    /// Start again after a stop.
    Start,
    /// Ask the peer to resend a family (RFC 2918).
    RouteRefresh(Family),
    /// The BFD session to the peer is Up (or AdminDown), or not: BfdUp / BfdDown
    /// (draft-ietf-idr-bgp-bfd-strict-mode §4).
    Bfd(bool),
    /// BFD strict mode changed (with its BfdHoldTime; `None`: off) for an Established
    /// session: the connections to come use it (§8.7.3: ignored while Established).
    BfdStrict(Option<u32>),
    /// End the task.
    Exit,
    /// End the task and close the connections without a NOTIFICATION, as a crash would:
    /// a peer without RFC 8538 support then keeps our routes (graceful restart).
    ExitSilently,
}

/// Reports to the actor.
#[derive(Debug)]
pub enum FromSession {
    /// The FSM state changed.
    State {
        /// Peer.
        id: SessionId,
        /// New state.
        state: State,
        /// The OpenSent sub-state waiting for BFD in strict mode, if any.
        bfd_pending: Option<BfdPending>,
    },
    /// A session became Established.
    Up {
        /// Peer.
        id: SessionId,
        /// What was negotiated.
        negotiated: Box<Negotiated>,
        /// Our end.
        local: SocketAddr,
        /// Their end.
        remote: SocketAddr,
    },
    /// A connection ended.
    Down {
        /// Peer.
        id: SessionId,
        /// Why.
        reason: DownReason,
        /// Whether it had been Established (routes must be flushed).
        was_established: bool,
    },
    /// Complete UPDATE / ROUTE-REFRESH messages received while Established.
    Received {
        /// Peer.
        id: SessionId,
        /// The messages, back to back.
        data: Vec<u8>,
        /// Released when the actor has processed the data: bounds what a session has in
        /// flight ([`IN_FLIGHT_KIB`]), so a fast peer waits in TCP, not in our memory.
        permit: tokio::sync::OwnedSemaphorePermit,
    },
    /// Everything handed over with `Send` was written.
    Drained {
        /// Peer.
        id: SessionId,
    },
}

/// Runs the session task until `Exit` or the actor goes away.
pub async fn run(
    spec: SessionSpec,
    cmds: mpsc::Receiver<ToSession>,
    to_actor: mpsc::Sender<FromSession>,
) {
    use tracing::Instrument;
    let span = tracing::info_span!("peer", addr = %spec.remote.ip());
    run_session(spec, cmds, to_actor).instrument(span).await
}

async fn run_session(
    mut spec: SessionSpec,
    mut cmds: mpsc::Receiver<ToSession>,
    to_actor: mpsc::Sender<FromSession>,
) {
    let id = spec.id;
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT_KIB as usize));
    let mut bfd_up = spec.bfd_up;
    let mut conns: Vec<Conn> = vec![Conn::new(&spec, spec.passive, bfd_up)];
    let mut admin_down = spec.shutdown.is_some();
    let mut idle_until: Option<Instant> = None;
    let mut failures: u32 = 0;
    let mut established_at: Option<Instant> = None;
    let mut last_state = (State::Idle, None);
    if !admin_down {
        step(&mut conns, 0, Event::ManualStart, &spec, &to_actor).await;
    }
    loop {
        // Report state changes of the primary connection.
        let now_state = (conns[0].fsm.state(), conns[0].fsm.bfd_pending());
        if now_state != last_state {
            last_state = now_state;
            let (state, bfd_pending) = now_state;
            if bfd_pending.is_some() {
                info!(
                    ?bfd_pending,
                    "OPEN accepted; waiting for BFD to come up (strict mode)"
                );
            }
            let _ = to_actor
                .send(FromSession::State {
                    id,
                    state,
                    bfd_pending,
                })
                .await;
        }
        let deadline = conns
            .iter()
            .filter_map(|c| c.next_deadline())
            .chain(idle_until)
            .min();
        let wake = {
            let (c0, rest) = conns.split_first_mut().expect("a primary connection");
            let c1 = rest.first_mut();
            let has1 = c1.as_ref().is_some_and(|c| c.reader.is_some());
            tokio::select! {
                cmd = cmds.recv() => Wake::Cmd(cmd),
                r = read_into(c0.reader.as_mut(), &mut c0.buf), if c0.reader.is_some() => Wake::Read(0, r),
                r = read_opt(c1), if has1 => Wake::Read(1, r),
                r = join_connect(&mut c0.connecting), if c0.connecting.is_some() => Wake::Connected(r),
                () = sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => Wake::Timer,
            }
        };
        match wake {
            Wake::Cmd(None) => break,
            Wake::Cmd(Some(cmd)) => match cmd {
                ToSession::Exit => {
                    step(&mut conns, 0, Event::ManualStop(None), &spec, &to_actor).await;
                    break;
                }
                ToSession::ExitSilently => {
                    for c in conns.iter_mut() {
                        c.detach();
                    }
                    break;
                }
                ToSession::Incoming(stream) => {
                    if !admin_down {
                        accept(&mut conns, stream, &spec, &to_actor).await;
                    }
                }
                ToSession::Send(bytes) => {
                    match conns.iter().find(|c| c.fsm.state() == State::Established) {
                        Some(c) => c.send(bytes, true),
                        None => {
                            let _ = to_actor.send(FromSession::Drained { id }).await;
                        }
                    }
                }
                ToSession::UpdateError(n) => {
                    if let Some(i) = conns
                        .iter()
                        .position(|c| c.fsm.state() == State::Established)
                    {
                        step(&mut conns, i, Event::UpdateMsgErr(n), &spec, &to_actor).await;
                    }
                }
                ToSession::Stop(n) => {
                    admin_down = true;
                    idle_until = None;
                    for i in (0..conns.len()).rev() {
                        step(
                            &mut conns,
                            i,
                            Event::ManualStop(n.clone()),
                            &spec,
                            &to_actor,
                        )
                        .await;
                    }
                    conns.truncate(1);
                }
                ToSession::Start => {
                    if admin_down {
                        admin_down = false;
                        failures = 0;
                        conns[0] = Conn::new(&spec, spec.passive, bfd_up);
                        step(&mut conns, 0, Event::ManualStart, &spec, &to_actor).await;
                    }
                }
                ToSession::Bfd(up) => {
                    bfd_up = up;
                    let ev = if up { Event::BfdUp } else { Event::BfdDown };
                    for i in (0..conns.len()).rev() {
                        step(&mut conns, i, ev.clone(), &spec, &to_actor).await;
                    }
                }
                ToSession::BfdStrict(hold) => {
                    spec.params.bfd_strict = hold.is_some();
                    spec.bfd_hold_time = hold.unwrap_or(crate::fsm::BFD_HOLD_TIME);
                }
                ToSession::RouteRefresh(family) => {
                    if let Some(c) = conns.iter().find(|c| c.fsm.state() == State::Established) {
                        let mut b = Vec::new();
                        RouteRefresh::new(family).encode(&mut b);
                        c.send(b, false);
                    }
                }
            },
            Wake::Read(i, r) => handle_read(&mut conns, i, r, &spec, &to_actor, &in_flight).await,
            Wake::Connected(r) => {
                conns[0].connecting = None;
                match r {
                    Ok(stream) => {
                        conns[0].attach(stream, &spec, id, &to_actor);
                        conns[0].outgoing = true;
                        step(&mut conns, 0, Event::TcpCrAcked, &spec, &to_actor).await;
                    }
                    Err(e) => {
                        debug!(%e, "connect failed");
                        step(&mut conns, 0, Event::TcpConnectionFails, &spec, &to_actor).await;
                    }
                }
            }
            Wake::Timer => {
                let now = Instant::now();
                if idle_until.is_some_and(|t| t <= now) {
                    idle_until = None;
                    if !admin_down && conns[0].fsm.state() == State::Idle {
                        // A fresh FSM: a promoted collision winner was passive.
                        conns[0] = Conn::new(&spec, spec.passive, bfd_up);
                        step(&mut conns, 0, Event::AutomaticStart, &spec, &to_actor).await;
                    }
                }
                for i in 0..conns.len() {
                    for (t, ev) in [
                        (Timer::Hold, Event::HoldTimerExpires),
                        (Timer::Keepalive, Event::KeepaliveTimerExpires),
                        (Timer::ConnectRetry, Event::ConnectRetryTimerExpires),
                        (Timer::BfdHold, Event::BfdHoldTimerExpires),
                    ] {
                        if i >= conns.len() {
                            break;
                        }
                        let slot = match t {
                            Timer::Hold => &mut conns[i].hold,
                            Timer::Keepalive => &mut conns[i].keepalive,
                            Timer::ConnectRetry => &mut conns[i].connect_retry,
                            Timer::BfdHold => &mut conns[i].bfd_hold,
                        };
                        if slot.is_some_and(|d| d <= now) {
                            *slot = None;
                            step(&mut conns, i, ev, &spec, &to_actor).await;
                        }
                    }
                }
            }
        }
        // Of two connections, the live one is kept as the primary; a dead secondary goes.
        if conns.len() > 1 {
            if conns[0].fsm.state() == State::Idle && conns[1].fsm.state() != State::Idle {
                conns.swap(0, 1);
            }
            if conns[1].fsm.state() == State::Idle {
                conns[1].detach();
                conns.truncate(1);
            }
        }
        if conns[0].fsm.state() == State::Established {
            if established_at.is_none() {
                established_at = Some(Instant::now());
            }
        } else if conns[0].fsm.state() == State::Idle && !admin_down && idle_until.is_none() {
            // Flapping peers wait longer: 1 s doubling to 120 s; a session that stayed up
            // for a minute resets the backoff.
            if established_at
                .take()
                .is_some_and(|t| t.elapsed() >= Duration::from_secs(60))
            {
                failures = 0;
            }
            let wait = Duration::from_secs((1u64 << failures.min(7)).min(120));
            failures = failures.saturating_add(1);
            idle_until = Some(Instant::now() + wait);
            debug!(?wait, "idle hold before restarting");
        }
    }
    for c in &mut conns {
        c.detach();
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400)
}

/// What woke the session loop.
enum Wake {
    Cmd(Option<ToSession>),
    Read(usize, std::io::Result<usize>),
    Connected(std::io::Result<TcpStream>),
    Timer,
}

async fn join_connect(
    h: &mut Option<tokio::task::JoinHandle<std::io::Result<TcpStream>>>,
) -> std::io::Result<TcpStream> {
    match h.as_mut() {
        Some(h) => h.await.unwrap_or_else(|e| Err(std::io::Error::other(e))),
        None => std::future::pending().await,
    }
}

async fn read_into(r: Option<&mut OwnedReadHalf>, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let Some(r) = r else {
        return std::future::pending().await;
    };
    if buf.capacity() - buf.len() < 16 * 1024 {
        buf.reserve(64 * 1024);
    }
    r.read_buf(buf).await
}

async fn read_opt(c: Option<&mut Conn>) -> std::io::Result<usize> {
    match c {
        Some(c) => read_into(c.reader.as_mut(), &mut c.buf).await,
        None => std::future::pending().await,
    }
}

async fn accept(
    conns: &mut Vec<Conn>,
    stream: TcpStream,
    spec: &SessionSpec,
    to_actor: &mpsc::Sender<FromSession>,
) {
    // GTSM: the SYN must have come with the minimum TTL (RFC 5082 §3); data that came
    // before the accepted socket got its minimum TTL was not filtered by the kernel.
    if let Some(min) = spec.min_ttl {
        match super::sockopt::syn_ttl(&stream) {
            Ok(ttl) if ttl >= min => {}
            Ok(ttl) => {
                warn!(
                    ttl,
                    min, "connection refused: SYN below the minimum TTL (GTSM)"
                );
                return;
            }
            Err(e) => warn!(%e, "GTSM: the TTL of the SYN is unknown"),
        }
    }
    let state = conns[0].fsm.state();
    match state {
        State::Idle => {
            // Not started (or in idle hold): refuse.
            drop(stream);
        }
        State::Connect | State::Active => {
            conns[0].detach();
            conns[0].attach(stream, spec, spec.id, to_actor);
            conns[0].outgoing = false;
            step(conns, 0, Event::TcpConnectionConfirmed, spec, to_actor).await;
        }
        State::OpenSent | State::OpenConfirm if conns.len() == 1 => {
            // A collision candidate: run a second FSM until the OPENs tell which stays.
            let mut c = Conn::new(spec, true, conns[0].fsm.bfd_up());
            c.attach(stream, spec, spec.id, to_actor);
            conns.push(c);
            step(conns, 1, Event::ManualStart, spec, to_actor).await;
            step(conns, 1, Event::TcpConnectionConfirmed, spec, to_actor).await;
        }
        _ => {
            // Established (or a collision already being resolved): the newcomer goes
            // (RFC 4271 §6.8).
            let mut b = Vec::new();
            Notification::new(
                codes::CEASE,
                bgp_wire::notification::cease::CONNECTION_COLLISION,
                vec![],
            )
            .encode(&mut b);
            let mut s = stream;
            let _ = s.write_all(&b).await;
        }
    }
}

async fn handle_read(
    conns: &mut [Conn],
    i: usize,
    r: std::io::Result<usize>,
    spec: &SessionSpec,
    to_actor: &mpsc::Sender<FromSession>,
    in_flight: &Arc<Semaphore>,
) {
    match r {
        Ok(0) | Err(_) => {
            step(conns, i, Event::TcpConnectionFails, spec, to_actor).await;
            return;
        }
        Ok(_) => {}
    }
    let mut batch: Vec<u8> = Vec::new();
    let mut consumed = 0;
    loop {
        let c = &conns[i];
        let ctx = c.negotiated.as_ref().map(|n| n.rx).unwrap_or_default();
        let rest = &c.buf[consumed..];
        let (len, ty) = match frame(rest, &ctx) {
            Ok(Frame::Ready(len, ty)) => (len, ty),
            Ok(Frame::Need(_)) => break,
            Err(e) => {
                warn!(%e, "bad message header");
                flush_batch(&mut batch, spec.id, to_actor, in_flight).await;
                step(
                    conns,
                    i,
                    Event::BgpHeaderErr(e.notification()),
                    spec,
                    to_actor,
                )
                .await;
                return;
            }
        };
        let event = match ty {
            MessageType::Update | MessageType::RouteRefresh => {
                if conns[i].fsm.state() == State::Established {
                    batch.extend_from_slice(&conns[i].buf[consumed..consumed + len]);
                    if batch.len() >= 1 << 20 {
                        flush_batch(&mut batch, spec.id, to_actor, in_flight).await;
                    }
                }
                if ty == MessageType::Update {
                    Event::UpdateMsg
                } else {
                    Event::RouteRefreshMsg
                }
            }
            MessageType::Keepalive => Event::KeepAliveMsg,
            MessageType::Open => {
                flush_batch(&mut batch, spec.id, to_actor, in_flight).await;
                match bgp_wire::Open::decode(&conns[i].buf[consumed..consumed + len]) {
                    Ok(o) => Event::BgpOpen(o),
                    Err(e) => {
                        warn!(%e, "bad OPEN");
                        Event::BgpOpenMsgErr(e.notification())
                    }
                }
            }
            MessageType::Notification => {
                match Notification::decode(&conns[i].buf[consumed..consumed + len]) {
                    Ok(n) => {
                        info!(notification = %n, "NOTIFICATION received");
                        Event::NotifMsg(n)
                    }
                    Err(_) => Event::TcpConnectionFails,
                }
            }
        };
        consumed += len;
        let was = conns[i].fsm.state();
        step(conns, i, event, spec, to_actor).await;
        if conns[i].reader.is_none()
            || (was == State::Established && conns[i].fsm.state() != State::Established)
        {
            batch.clear();
            return;
        }
    }
    flush_batch(&mut batch, spec.id, to_actor, in_flight).await;
    let c = &mut conns[i];
    c.buf.drain(..consumed);
}

/// Received bytes a session may have waiting for the actor, in KiB.
const IN_FLIGHT_KIB: u32 = 4096;

async fn flush_batch(
    batch: &mut Vec<u8>,
    id: SessionId,
    to_actor: &mpsc::Sender<FromSession>,
    in_flight: &Arc<Semaphore>,
) {
    if !batch.is_empty() {
        let kib = u32::try_from(batch.len().div_ceil(1024))
            .unwrap_or(u32::MAX)
            .min(IN_FLIGHT_KIB);
        let Ok(permit) = in_flight.clone().acquire_many_owned(kib).await else {
            return;
        };
        let data = std::mem::take(batch);
        let _ = to_actor
            .send(FromSession::Received { id, data, permit })
            .await;
    }
}

/// Feeds an event to connection `i`'s FSM and carries out the actions.
async fn step(
    conns: &mut [Conn],
    i: usize,
    event: Event,
    spec: &SessionSpec,
    to_actor: &mpsc::Sender<FromSession>,
) {
    let mut actions = Vec::new();
    conns[i].fsm.handle(event, &mut actions);
    for a in actions {
        match a {
            Action::Connect => {
                let spec = spec.clone();
                conns[i].connecting = Some(tokio::spawn(async move { connect(&spec).await }));
            }
            Action::Disconnect => conns[i].detach(),
            Action::SendOpen(o) => {
                let mut b = Vec::new();
                o.encode(&mut b);
                conns[i].send(b, false);
            }
            Action::SendKeepalive => {
                let mut b = Vec::new();
                encode_keepalive(&mut b);
                conns[i].send(b, false);
            }
            Action::SendNotification(n) => {
                info!(notification = %n, "sending NOTIFICATION");
                let mut b = Vec::new();
                n.encode(&mut b);
                conns[i].send(b, false);
            }
            Action::StartTimer(t, secs) => {
                let d = match t {
                    Timer::Hold | Timer::BfdHold => Duration::from_secs(u64::from(secs)),
                    Timer::Keepalive | Timer::ConnectRetry => jitter(secs),
                };
                let at = Some(Instant::now() + d);
                match t {
                    Timer::Hold => conns[i].hold = at,
                    Timer::Keepalive => conns[i].keepalive = at,
                    Timer::ConnectRetry => conns[i].connect_retry = at,
                    Timer::BfdHold => conns[i].bfd_hold = at,
                }
            }
            Action::StopTimer(t) => match t {
                Timer::Hold => conns[i].hold = None,
                Timer::Keepalive => conns[i].keepalive = None,
                Timer::ConnectRetry => conns[i].connect_retry = None,
                Timer::BfdHold => conns[i].bfd_hold = None,
            },
            Action::OpenAccepted(n) => {
                conns[i].negotiated = Some(n.clone());
                collision::resolve(conns, i, &n, spec, to_actor).await;
            }
            Action::Established(n) => {
                info!(peer_as = n.peer_asn, "session Established");
                if i != 0 {
                    conns.swap(0, i);
                }
                let c = &conns[0];
                let _ = to_actor
                    .send(FromSession::Up {
                        id: spec.id,
                        negotiated: n,
                        local: c.local.unwrap_or(spec.remote),
                        remote: c.remote.unwrap_or(spec.remote),
                    })
                    .await;
            }
            Action::Down {
                reason,
                was_established,
            } => {
                if was_established {
                    info!(%reason, "session down");
                } else {
                    debug!(%reason, "connection closed");
                }
                conns[i].negotiated = None;
                let _ = to_actor
                    .send(FromSession::Down {
                        id: spec.id,
                        reason,
                        was_established,
                    })
                    .await;
            }
        }
    }
}

/// Opens our connection: the MD5 key and the TTL are set before the SYN.
async fn connect(spec: &SessionSpec) -> std::io::Result<TcpStream> {
    let remote = spec.remote;
    let sock = match remote {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    if let Some(l) = spec.local_addr {
        sock.bind(SocketAddr::new(l, 0))?;
    }
    if let Some(key) = &spec.password {
        super::sockopt::set_md5(&sock, remote.ip(), None, Some(key.as_bytes()))?;
    }
    if let Some(ttl) = spec.ttl {
        let s = socket2::SockRef::from(&sock);
        match remote {
            SocketAddr::V6(_) => s.set_unicast_hops_v6(u32::from(ttl))?,
            SocketAddr::V4(_) => s.set_ttl(u32::from(ttl))?,
        }
    }
    tokio::time::timeout(Duration::from_secs(10), sock.connect(remote))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))?
}

mod collision;
mod conn;
use conn::{jitter, Conn};

#[cfg(test)]
mod tests;
