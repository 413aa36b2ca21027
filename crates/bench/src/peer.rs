//! The harness's own BGP peers: a minimal session (OPEN, KEEPALIVE, NOTIFICATION) on a
//! blocking TCP socket, the injector that writes the pre-encoded stream, and the monitor
//! that counts what it receives.
//!
//! Each peer runs in its own thread that first enters the peer's network namespace. The
//! orchestrator talks to them through [`Event`]s and a shared [`Control`].

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bgp_wire::{
    encode_keepalive, frame, Capability, Family, Frame, HeaderError, Message, Open, SessionContext,
};

use crate::accounting::Held;
use crate::stream::{PrefixPlan, Stream};

/// Hold time the peers offer (the DUT may negotiate it down).
pub const HOLD_TIME: u16 = 90;
/// Size of the receive buffer of a peer (user space).
const READ_BUF: usize = 4 << 20;
/// Once Established, a read that returns fewer bytes than this is followed by a pause of
/// [`BATCH_WAIT`] so that the next read takes a batch: one wakeup per millisecond instead
/// of one per TCP segment when a DUT trickles small segments (BIRD and OpenBGPD cost the
/// monitor ~55,000 reads and 0.5 s of CPU otherwise), at the cost of at most 1 ms of
/// delay on the final measurement. (SO_RCVLOWAT would do the same in the kernel but is
/// not exposed by nix or socket2.)
const LOW_WATER: usize = 16 * 1024;
/// See [`LOW_WATER`].
const BATCH_WAIT: Duration = Duration::from_millis(1);

/// Which of the harness's peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends the table.
    Injector,
    /// Receives the table.
    Monitor,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Injector => "injector",
            Role::Monitor => "monitor",
        })
    }
}

/// Errors of the peer layer.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// Could not reach the other side in time.
    #[error("{role}: no TCP connection to {addr} within {secs} s (last error: {last})")]
    Connect {
        /// Peer.
        role: Role,
        /// Address dialled or listened on.
        addr: SocketAddr,
        /// Time allowed.
        secs: u64,
        /// Last error seen.
        last: String,
    },
    /// Socket error.
    #[error("{role}: {what}: {source}")]
    Io {
        /// Peer.
        role: Role,
        /// During what.
        what: &'static str,
        /// Why.
        source: io::Error,
    },
    /// The other side closed the connection.
    #[error("{role}: the DUT closed the session ({when})")]
    Closed {
        /// Peer.
        role: Role,
        /// Session phase.
        when: &'static str,
    },
    /// The other side sent a NOTIFICATION.
    #[error("{role}: the DUT sent NOTIFICATION {code}/{subcode} ({when})")]
    Notification {
        /// Peer.
        role: Role,
        /// Error code.
        code: u8,
        /// Error subcode.
        subcode: u8,
        /// Session phase.
        when: &'static str,
    },
    /// A message could not be decoded.
    #[error("{role}: undecodable message from the DUT: {reason}")]
    Decode {
        /// Peer.
        role: Role,
        /// Why.
        reason: String,
    },
    /// The OPEN did not match the configuration.
    #[error("{role}: unexpected OPEN from the DUT: {reason}")]
    Open {
        /// Peer.
        role: Role,
        /// Why.
        reason: String,
    },
    /// Entering the namespace failed.
    #[error("{role}: {source}")]
    Netns {
        /// Peer.
        role: Role,
        /// Why.
        source: crate::netns::NetnsError,
    },
}

/// How a peer gets its TCP connection.
#[derive(Debug, Clone, Copy)]
pub enum Dial {
    /// Connect to this address (retrying until it listens).
    Connect(SocketAddr),
    /// Listen on this address and accept one connection.
    Accept(SocketAddr),
}

/// One side's BGP parameters.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// Role, for messages.
    pub role: Role,
    /// Our AS.
    pub local_as: u32,
    /// Our BGP identifier.
    pub router_id: std::net::Ipv4Addr,
    /// The AS we expect on the other side.
    pub peer_as: u32,
    /// Namespace to enter first.
    pub netns: String,
    /// How to connect.
    pub dial: Dial,
    /// How long connecting and the OPEN exchange may take.
    pub connect_timeout: Duration,
}

/// What the peers report to the orchestrator.
#[derive(Debug)]
pub enum Event {
    /// The session is Established.
    Established(Role),
    /// The injector is about to write the first UPDATE, at this instant.
    Started(Instant),
    /// The injector has written the whole stream (End-of-RIB included).
    SendDone {
        /// When the last byte was written.
        at: Instant,
        /// CPU seconds the writing thread used since the first UPDATE.
        cpu: f64,
    },
    /// The monitor holds every prefix of the plan.
    Complete {
        /// When the last prefix arrived.
        at: Instant,
        /// Prefixes held then.
        held: u64,
        /// UPDATEs received until then.
        updates: u64,
        /// CPU seconds the monitor's reading thread used since its session came up.
        cpu: f64,
    },
    /// A peer failed.
    Failed(PeerError),
}

/// State shared between the orchestrator and the peers.
#[derive(Debug, Default)]
pub struct Control {
    /// Set to stop every peer.
    pub stop: AtomicBool,
    /// Prefixes the monitor holds now.
    pub held: AtomicU64,
    /// UPDATEs the monitor has received.
    pub monitor_updates: AtomicU64,
    /// UPDATEs the DUT sent back to the injector.
    pub injector_updates: AtomicU64,
    /// CPU nanoseconds used by the thread draining what the DUT sends to the injector.
    pub drain_cpu_ns: AtomicU64,
    /// Every socket, so that stopping can shut them down and unblock their threads.
    sockets: Mutex<Vec<TcpStream>>,
}

impl Control {
    /// Stops every peer: sets the flag and shuts every socket down.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Ok(socks) = self.sockets.lock() {
            for s in socks.iter() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn register(&self, s: &TcpStream) {
        if let (Ok(c), Ok(mut socks)) = (s.try_clone(), self.sockets.lock()) {
            socks.push(c);
        }
    }
}

/// Reads framed BGP messages out of a large buffer.
struct Framer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Framer {
    fn new(cap: usize) -> Self {
        Framer {
            buf: vec![0; cap],
            start: 0,
            end: 0,
        }
    }

    /// Reads more bytes; `Ok(0)` at end of stream.
    fn fill(&mut self, r: &mut impl Read) -> io::Result<usize> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.buf.len() - self.end < 65_536 {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        loop {
            match r.read(&mut self.buf[self.end..]) {
                Ok(n) => {
                    self.end += n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The range of the next complete message, if there is one; consumes it.
    fn next(&mut self, ctx: &SessionContext) -> Result<Option<(usize, usize)>, HeaderError> {
        match frame(&self.buf[self.start..self.end], ctx)? {
            Frame::Ready(len, _) => {
                let r = (self.start, self.start + len);
                self.start += len;
                Ok(Some(r))
            }
            Frame::Need(_) => Ok(None),
        }
    }
}

/// An Established session.
struct Session {
    sock: TcpStream,
    framer: Framer,
    rx: SessionContext,
    keepalive: Option<Duration>,
}

fn io_err(role: Role, what: &'static str) -> impl FnOnce(io::Error) -> PeerError {
    move |source| PeerError::Io { role, what, source }
}

/// Connects (or accepts), then runs the OPEN exchange until Established.
fn establish(cfg: &PeerConfig, ctl: &Control) -> Result<Session, PeerError> {
    let role = cfg.role;
    crate::netns::enter(&cfg.netns).map_err(|source| PeerError::Netns { role, source })?;
    let deadline = Instant::now() + cfg.connect_timeout;
    let mut sock = dial(cfg, ctl, deadline)?;
    ctl.register(&sock);
    sock.set_nodelay(true)
        .map_err(io_err(role, "TCP_NODELAY"))?;
    let caps = vec![
        Capability::Multiprotocol(Family::IPV4_UNICAST),
        Capability::RouteRefresh,
        Capability::FourOctetAs(cfg.local_as),
    ];
    let open = Open::new(cfg.local_as, HOLD_TIME, cfg.router_id, caps);
    let mut out = Vec::with_capacity(64);
    open.encode(&mut out);
    sock.write_all(&out).map_err(io_err(role, "sending OPEN"))?;
    sock.set_read_timeout(Some(cfg.connect_timeout))
        .map_err(io_err(role, "setting a read timeout"))?;

    let mut framer = Framer::new(READ_BUF);
    let mut ctx = SessionContext::default();
    let mut got_open: Option<Open> = None;
    loop {
        while let Some((a, b)) = framer.next(&ctx).map_err(|e| PeerError::Decode {
            role,
            reason: e.to_string(),
        })? {
            let msg = &framer.buf[a..b];
            let (m, _) = Message::decode(msg, &ctx).map_err(|e| PeerError::Decode {
                role,
                reason: e.to_string(),
            })?;
            match (m, &got_open) {
                (Message::Open(o), None) => {
                    if o.asn() != cfg.peer_as {
                        return Err(PeerError::Open {
                            role,
                            reason: format!("AS {} instead of {}", o.asn(), cfg.peer_as),
                        });
                    }
                    let (rx, _tx) = SessionContext::negotiate(&open, &o, true);
                    ctx = rx;
                    let mut ka = Vec::new();
                    encode_keepalive(&mut ka);
                    sock.write_all(&ka)
                        .map_err(io_err(role, "sending KEEPALIVE"))?;
                    got_open = Some(o);
                }
                (Message::Keepalive, Some(o)) => {
                    let hold = HOLD_TIME.min(o.hold_time);
                    sock.set_read_timeout(None)
                        .map_err(io_err(role, "clearing the read timeout"))?;
                    return Ok(Session {
                        sock,
                        framer,
                        rx: ctx,
                        keepalive: (hold > 0).then(|| Duration::from_secs(u64::from(hold) / 3)),
                    });
                }
                (Message::Notification(n), _) => {
                    return Err(PeerError::Notification {
                        role,
                        code: n.code,
                        subcode: n.subcode,
                        when: "during the OPEN exchange",
                    })
                }
                (other, _) => {
                    return Err(PeerError::Open {
                        role,
                        reason: format!("unexpected {:?} during the OPEN exchange", kind(&other)),
                    })
                }
            }
        }
        match framer.fill(&mut sock) {
            Ok(0) => {
                return Err(PeerError::Closed {
                    role,
                    when: "during the OPEN exchange",
                })
            }
            Ok(_) => {}
            Err(e) if ctl.stopping() => return Err(io_err(role, "stopped")(e)),
            Err(e) => return Err(io_err(role, "reading the OPEN exchange")(e)),
        }
    }
}

fn kind(m: &Message<'_>) -> &'static str {
    match m {
        Message::Open(_) => "OPEN",
        Message::Update(_) => "UPDATE",
        Message::Notification(_) => "NOTIFICATION",
        Message::Keepalive => "KEEPALIVE",
        Message::RouteRefresh(_) => "ROUTE-REFRESH",
    }
}

fn dial(cfg: &PeerConfig, ctl: &Control, deadline: Instant) -> Result<TcpStream, PeerError> {
    let role = cfg.role;
    let mut last = String::from("none");
    let fail = |addr, last| PeerError::Connect {
        role,
        addr,
        secs: cfg.connect_timeout.as_secs(),
        last,
    };
    match cfg.dial {
        Dial::Connect(addr) => {
            while Instant::now() < deadline && !ctl.stopping() {
                match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                    Ok(s) => return Ok(s),
                    Err(e) => last = e.to_string(),
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(fail(addr, last))
        }
        Dial::Accept(addr) => {
            let l = TcpListener::bind(addr).map_err(io_err(role, "listening"))?;
            l.set_nonblocking(true).map_err(io_err(role, "listening"))?;
            while Instant::now() < deadline && !ctl.stopping() {
                match l.accept() {
                    Ok((s, _)) => {
                        s.set_nonblocking(false)
                            .map_err(io_err(role, "accepting"))?;
                        return Ok(s);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => last = e.to_string(),
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(fail(addr, last))
        }
    }
}

/// Pauses after a small read (see [`LOW_WATER`]).
#[inline]
fn batch_pause(n: usize) {
    if n < LOW_WATER {
        std::thread::sleep(BATCH_WAIT);
    }
}

/// Sends a KEEPALIVE every `every` until stopped (the monitor's only writes after the OPEN
/// exchange, so it owns a clone of the socket).
fn keepalive_loop(mut sock: TcpStream, every: Duration, ctl: &Control) {
    let mut ka = Vec::new();
    encode_keepalive(&mut ka);
    let mut next = Instant::now() + every;
    while !ctl.stopping() {
        if Instant::now() >= next {
            if sock.write_all(&ka).is_err() {
                return;
            }
            next += every;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs the injector: establish, wait for `go`, write the stream with KEEPALIVEs in
/// between, then keep the session up until stopped. Drains whatever the DUT sends back.
pub fn run_injector(
    cfg: PeerConfig,
    stream: Arc<Stream>,
    go: Receiver<()>,
    events: Sender<Event>,
    ctl: Arc<Control>,
) {
    let role = cfg.role;
    let result = (|| -> Result<(), PeerError> {
        let s = establish(&cfg, &ctl)?;
        let _ = events.send(Event::Established(role));
        let reader = s
            .sock
            .try_clone()
            .map_err(io_err(role, "cloning the socket"))?;
        let (ctl2, ev2, rx) = (ctl.clone(), events.clone(), s.rx);
        let framer = s.framer;
        std::thread::Builder::new()
            .name("bench-injector-rx".into())
            .spawn(move || {
                if let Err(e) = drain(reader, framer, rx, &ctl2) {
                    if !ctl2.stopping() {
                        let _ = ev2.send(Event::Failed(e));
                    }
                }
            })
            .map_err(io_err(role, "spawning the reader thread"))?;
        let mut sock = s.sock;
        let every = s.keepalive;
        let mut ka = Vec::new();
        encode_keepalive(&mut ka);
        let mut next_ka = every.map(|e| Instant::now() + e);
        // Wait for the go signal, keeping the session alive meanwhile.
        loop {
            if ctl.stopping() {
                return Ok(());
            }
            match go.recv_timeout(Duration::from_millis(50)) {
                Ok(()) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
            }
            keepalive_due(&mut sock, &ka, every, &mut next_ka, role)?;
        }
        let (t0, cpu0) = (Instant::now(), thread_cpu());
        let _ = events.send(Event::Started(t0));
        for chunk in stream.chunks() {
            keepalive_due(&mut sock, &ka, every, &mut next_ka, role)?;
            sock.write_all(chunk)
                .map_err(io_err(role, "writing the UPDATE stream"))?;
        }
        let _ = events.send(Event::SendDone {
            at: Instant::now(),
            cpu: thread_cpu() - cpu0,
        });
        while !ctl.stopping() {
            keepalive_due(&mut sock, &ka, every, &mut next_ka, role)?;
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    })();
    if let Err(e) = result {
        if !ctl.stopping() {
            let _ = events.send(Event::Failed(e));
        }
    }
}

/// CPU time of the calling thread, in seconds.
fn thread_cpu() -> f64 {
    use nix::time::{clock_gettime, ClockId};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map_or(0.0, |t| t.tv_sec() as f64 + t.tv_nsec() as f64 / 1e9)
}

fn keepalive_due(
    sock: &mut TcpStream,
    ka: &[u8],
    every: Option<Duration>,
    next: &mut Option<Instant>,
    role: Role,
) -> Result<(), PeerError> {
    if let (Some(e), Some(n)) = (every, next.as_mut()) {
        if Instant::now() >= *n {
            sock.write_all(ka)
                .map_err(io_err(role, "sending KEEPALIVE"))?;
            *n = Instant::now() + e;
        }
    }
    Ok(())
}

/// Reads and frames what the DUT sends to the injector (it may send the whole table
/// back): counts UPDATEs, fails on NOTIFICATION.
fn drain(
    mut sock: TcpStream,
    mut framer: Framer,
    ctx: SessionContext,
    ctl: &Control,
) -> Result<(), PeerError> {
    let role = Role::Injector;
    loop {
        let mut updates = 0;
        while let Some((a, _)) = framer.next(&ctx).map_err(|e| PeerError::Decode {
            role,
            reason: e.to_string(),
        })? {
            match framer.buf[a + 18] {
                2 => updates += 1,
                3 => {
                    let (code, subcode) = (
                        framer.buf.get(a + 19).copied().unwrap_or(0),
                        framer.buf.get(a + 20).copied().unwrap_or(0),
                    );
                    return Err(PeerError::Notification {
                        role,
                        code,
                        subcode,
                        when: "while Established",
                    });
                }
                _ => {}
            }
        }
        ctl.injector_updates.fetch_add(updates, Ordering::Relaxed);
        ctl.drain_cpu_ns
            .store((thread_cpu() * 1e9) as u64, Ordering::Relaxed);
        match framer.fill(&mut sock) {
            Ok(0) => {
                return Err(PeerError::Closed {
                    role,
                    when: "while Established",
                })
            }
            Ok(n) => batch_pause(n),
            Err(e) => return Err(io_err(role, "reading")(e)),
        }
    }
}

/// Runs the monitor: establish, then apply every UPDATE to a [`Held`] table and report
/// the instant it holds the whole plan. Keeps reading until stopped.
pub fn run_monitor(cfg: PeerConfig, plan: PrefixPlan, events: Sender<Event>, ctl: Arc<Control>) {
    let role = cfg.role;
    let result = (|| -> Result<(), PeerError> {
        let s = establish(&cfg, &ctl)?;
        let _ = events.send(Event::Established(role));
        if let Some(every) = s.keepalive {
            let w = s
                .sock
                .try_clone()
                .map_err(io_err(role, "cloning the socket"))?;
            let c = ctl.clone();
            std::thread::Builder::new()
                .name("bench-monitor-ka".into())
                .spawn(move || keepalive_loop(w, every, &c))
                .map_err(io_err(role, "spawning the keepalive thread"))?;
        }
        let (mut sock, mut framer, ctx) = (s.sock, s.framer, s.rx);
        let cpu0 = thread_cpu();
        let (mut reads, mut bytes) = (0u64, 0u64);
        let mut held = Held::new(plan);
        let mut done = false;
        loop {
            while let Some((a, b)) = framer.next(&ctx).map_err(|e| PeerError::Decode {
                role,
                reason: e.to_string(),
            })? {
                let (m, _) =
                    Message::decode(&framer.buf[a..b], &ctx).map_err(|e| PeerError::Decode {
                        role,
                        reason: e.to_string(),
                    })?;
                match m {
                    Message::Update(u) => {
                        held.apply(&u);
                        if !done && held.complete() {
                            let at = Instant::now();
                            done = true;
                            tracing::debug!(
                                reads,
                                bytes,
                                updates = held.updates,
                                "monitor holds every prefix"
                            );
                            let _ = events.send(Event::Complete {
                                at,
                                held: u64::from(held.held()),
                                updates: held.updates,
                                cpu: thread_cpu() - cpu0,
                            });
                        }
                    }
                    Message::Notification(n) => {
                        return Err(PeerError::Notification {
                            role,
                            code: n.code,
                            subcode: n.subcode,
                            when: "while Established",
                        })
                    }
                    _ => {}
                }
            }
            ctl.held.store(u64::from(held.held()), Ordering::Relaxed);
            ctl.monitor_updates.store(held.updates, Ordering::Relaxed);
            match framer.fill(&mut sock) {
                Ok(0) => {
                    return Err(PeerError::Closed {
                        role,
                        when: "while Established",
                    })
                }
                Ok(n) => {
                    reads += 1;
                    bytes += n as u64;
                    batch_pause(n);
                }
                Err(e) => return Err(io_err(role, "reading")(e)),
            }
        }
    })();
    if let Err(e) = result {
        if !ctl.stopping() {
            let _ = events.send(Event::Failed(e));
        }
    }
}
