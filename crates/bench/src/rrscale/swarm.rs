//! The route reflector's clients: N iBGP sessions from one thread of the harness.
//!
//! The thread enters the clients' namespace, where `local 10.100.0.0/16 dev lo` makes every
//! address of the range ours, and runs a single-threaded tokio runtime with one task per
//! client. Client `i` connects from `10.100.0.0 + 1 + i`, announces pod prefix `i` of a
//! [`PrefixPlan`] (with itself as next hop) when the orchestrator says go, and counts the
//! prefixes the reflector sends it until it holds every other client's.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bgp_wire::update::owned::encode_attributes;
use bgp_wire::{
    encode_keepalive, frame, AsPath, AttributeValue, Capability, Family, Frame, Message, Nlri,
    Open, Origin, PathAttribute, SessionContext, UpdatePacker,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{watch, Semaphore};

use crate::accounting::Held;
use crate::stream::PrefixPlan;

/// Hold time the clients offer.
pub const HOLD_TIME: u16 = 180;
/// Handshakes in flight at once (a burst of thousands of SYNs overflows listen backlogs).
const CONCURRENT_HANDSHAKES: usize = 256;
/// Initial receive buffer of a client; grows for a larger message.
const READ_BUF: usize = 16 * 1024;

/// The address of client `i`.
pub fn client_addr(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 100, 0, 0)) + 1 + i)
}

/// What the swarm is to do.
#[derive(Debug, Clone)]
pub struct SwarmConfig {
    /// Namespace of the clients.
    pub netns: String,
    /// Number of clients.
    pub clients: u32,
    /// The reflector's address.
    pub rr: SocketAddrV4,
    /// The AS of everyone (iBGP).
    pub asn: u32,
    /// How long connecting and establishing may take in all.
    pub establish_timeout: Duration,
}

/// Counters shared between the swarm and the orchestrator.
#[derive(Debug, Default)]
pub struct Progress {
    /// Clients whose session is Established.
    pub established: AtomicUsize,
    /// Clients that hold every other client's prefix.
    pub complete: AtomicUsize,
    /// UPDATEs received by all clients.
    pub updates: AtomicU64,
    /// Prefixes held, summed over the clients.
    pub held: AtomicU64,
    /// When the last client became complete.
    pub done_at: Mutex<Option<Instant>>,
    /// The first failure of a client.
    pub failure: Mutex<Option<String>>,
    /// CPU time of the swarm's thread, in nanoseconds, when it last looked.
    pub cpu_ns: AtomicU64,
    /// When the clients started connecting (after the reflector accepted a probe).
    pub started_at: Mutex<Option<Instant>>,
}

impl Progress {
    fn fail(&self, msg: String) {
        if let Ok(mut f) = self.failure.lock() {
            f.get_or_insert(msg);
        }
    }
}

/// Runs the swarm until `stop` turns true. Call it on a thread of its own.
pub fn run(
    cfg: SwarmConfig,
    progress: Arc<Progress>,
    go: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
) {
    if let Err(e) = crate::netns::enter(&cfg.netns) {
        progress.fail(e.to_string());
        return;
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            progress.fail(format!("starting the clients' runtime: {e}"));
            return;
        }
    };
    let plan = match PrefixPlan::new(cfg.clients) {
        Ok(p) => p,
        Err(e) => {
            progress.fail(e.to_string());
            return;
        }
    };
    rt.block_on(async move {
        let deadline = tokio::time::Instant::now() + cfg.establish_timeout;
        // Every daemon gets the same start: its port accepts a connection, then a settle
        // time (BIRD refuses peers whose protocol is not up yet, and they then wait out
        // its error-wait timer, over a minute).
        if let Err(e) = wait_listening(cfg.rr, deadline).await {
            progress.fail(e);
            return;
        }
        tokio::time::sleep(SETTLE).await;
        if let Ok(mut s) = progress.started_at.lock() {
            *s = Some(Instant::now());
        }
        let sem = Arc::new(Semaphore::new(CONCURRENT_HANDSHAKES));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..cfg.clients {
            let c = Client {
                i,
                plan,
                asn: cfg.asn,
                rr: cfg.rr,
                progress: progress.clone(),
            };
            let (go, sem) = (go.clone(), sem.clone());
            tasks.spawn(async move {
                if let Err(e) = c.run(go, sem, deadline).await {
                    c.progress
                        .fail(format!("client {} ({}): {e}", c.i, client_addr(c.i)));
                }
            });
        }
        let mut stop = stop;
        let cpu = progress.clone();
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                _ = tick.tick() => cpu.cpu_ns.store(thread_cpu_ns(), Ordering::Relaxed),
            }
        }
        tasks.abort_all();
    });
}

/// How long the clients wait after the reflector first accepts a connection.
const SETTLE: Duration = Duration::from_secs(1);

/// Waits until the reflector accepts a TCP connection (from the gateway's address, so
/// that no client's session is touched), then closes it.
async fn wait_listening(rr: SocketAddrV4, deadline: tokio::time::Instant) -> Result<(), String> {
    let mut last = String::from("no attempt");
    while tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(rr)).await {
            Ok(Ok(s)) => {
                drop(s);
                return Ok(());
            }
            Ok(Err(e)) => last = e.to_string(),
            Err(_) => last = "timed out".into(),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!(
        "the reflector {rr} never accepted a connection: {last}"
    ))
}

fn thread_cpu_ns() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

/// Why a client stopped.
#[derive(Debug, thiserror::Error)]
enum ClientError {
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        source: io::Error,
    },
    #[error("could not connect to the reflector before the deadline: {0}")]
    Connect(String),
    #[error("the reflector closed the session {0}")]
    Closed(&'static str),
    #[error("the reflector sent NOTIFICATION {code}/{subcode} {when}")]
    Notification {
        code: u8,
        subcode: u8,
        when: &'static str,
    },
    #[error("decoding what the reflector sent: {0}")]
    Decode(String),
    #[error("unexpected {0} during the OPEN exchange")]
    Unexpected(&'static str),
    #[error("encoding the UPDATE: {0}")]
    Encode(String),
}

fn io(what: &'static str) -> impl FnOnce(io::Error) -> ClientError {
    move |source| ClientError::Io { what, source }
}

struct Client {
    i: u32,
    plan: PrefixPlan,
    asn: u32,
    rr: SocketAddrV4,
    progress: Arc<Progress>,
}

/// A receive buffer that hands out whole messages.
struct Buf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl Buf {
    fn new() -> Self {
        Buf {
            data: vec![0; READ_BUF],
            start: 0,
            end: 0,
        }
    }

    /// Room to read into, after moving what is left to the front (and growing when a
    /// message does not fit).
    fn room(&mut self) -> &mut [u8] {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.start > 0 && self.data.len() - self.end < 4096 {
            self.data.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        if self.end == self.data.len() {
            self.data.resize(self.data.len() * 2, 0);
        }
        &mut self.data[self.end..]
    }

    fn next(&mut self, ctx: &SessionContext) -> Result<Option<(usize, usize)>, ClientError> {
        match frame(&self.data[self.start..self.end], ctx) {
            Ok(Frame::Ready(len, _)) => {
                let r = (self.start, self.start + len);
                self.start += len;
                Ok(Some(r))
            }
            Ok(Frame::Need(_)) => Ok(None),
            Err(e) => Err(ClientError::Decode(e.to_string())),
        }
    }
}

impl Client {
    async fn run(
        &self,
        mut go: watch::Receiver<bool>,
        sem: Arc<Semaphore>,
        deadline: tokio::time::Instant,
    ) -> Result<(), ClientError> {
        let permit = sem.acquire().await;
        // A speaker may close a connection it is not ready for (BIRD does while its
        // protocols start): like a BGP speaker's ConnectRetry, try again until the deadline.
        let (mut sock, ctx, keepalive) = loop {
            let mut sock = self.connect(deadline).await?;
            match self.handshake(&mut sock).await {
                Ok((ctx, ka)) => break (sock, ctx, ka),
                Err(e @ (ClientError::Closed(_) | ClientError::Io { .. }))
                    if tokio::time::Instant::now() < deadline =>
                {
                    tracing::debug!(client = self.i, "retrying after {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e),
            }
        };
        drop(permit);
        self.progress.established.fetch_add(1, Ordering::Relaxed);

        let mut held = Held::new(self.plan);
        if let Some(own) = self.plan.prefix(self.i) {
            held.announce(own.into());
        }
        let mut ka_msg = Vec::with_capacity(19);
        encode_keepalive(&mut ka_msg);
        let mut ka = tokio::time::interval(keepalive.unwrap_or(Duration::from_secs(3600)));
        ka.tick().await;
        let mut buf = Buf::new();
        let mut sent = false;
        let mut complete = held.complete();
        loop {
            if !sent && *go.borrow() {
                sock.write_all(&self.announcement()?)
                    .await
                    .map_err(io("sending the UPDATE"))?;
                sent = true;
            }
            tokio::select! {
                r = sock.read(buf.room()) => {
                    let n = r.map_err(io("reading"))?;
                    if n == 0 {
                        return Err(ClientError::Closed("while Established"));
                    }
                    buf.end += n;
                    let before = u64::from(held.held());
                    while let Some((a, b)) = buf.next(&ctx)? {
                        match Message::decode(&buf.data[a..b], &ctx) {
                            Ok((Message::Update(u), _)) => {
                                held.apply(&u);
                                self.progress.updates.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok((Message::Notification(n), _)) => {
                                return Err(ClientError::Notification {
                                    code: n.code,
                                    subcode: n.subcode,
                                    when: "while Established",
                                })
                            }
                            Ok(_) => {}
                            Err(e) => return Err(ClientError::Decode(e.to_string())),
                        }
                    }
                    let after = u64::from(held.held());
                    if after >= before {
                        self.progress.held.fetch_add(after - before, Ordering::Relaxed);
                    } else {
                        self.progress.held.fetch_sub(before - after, Ordering::Relaxed);
                    }
                    if held.complete() != complete {
                        complete = held.complete();
                        if complete {
                            let n = self.progress.complete.fetch_add(1, Ordering::Relaxed) + 1;
                            if n == self.plan.len() as usize {
                                if let Ok(mut d) = self.progress.done_at.lock() {
                                    *d = Some(Instant::now());
                                }
                            }
                        } else {
                            self.progress.complete.fetch_sub(1, Ordering::Relaxed);
                        }
                    }
                }
                _ = ka.tick() => {
                    sock.write_all(&ka_msg).await.map_err(io("sending a KEEPALIVE"))?;
                }
                r = go.changed(), if !sent => {
                    if r.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }

    async fn connect(&self, deadline: tokio::time::Instant) -> Result<TcpStream, ClientError> {
        let local = SocketAddr::V4(SocketAddrV4::new(client_addr(self.i), 0));
        let mut last = String::from("no attempt");
        while tokio::time::Instant::now() < deadline {
            let s = TcpSocket::new_v4().map_err(io("creating a socket"))?;
            s.bind(local).map_err(io("binding the client's address"))?;
            match tokio::time::timeout(Duration::from_secs(3), s.connect(SocketAddr::V4(self.rr)))
                .await
            {
                Ok(Ok(sock)) => {
                    sock.set_nodelay(true).map_err(io("TCP_NODELAY"))?;
                    return Ok(sock);
                }
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => last = "timed out".into(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(ClientError::Connect(last))
    }

    /// OPEN exchange until Established; returns the session context and keepalive period.
    async fn handshake(
        &self,
        sock: &mut TcpStream,
    ) -> Result<(SessionContext, Option<Duration>), ClientError> {
        let caps = vec![
            Capability::Multiprotocol(Family::IPV4_UNICAST),
            Capability::RouteRefresh,
            Capability::FourOctetAs(self.asn),
        ];
        let open = Open::new(self.asn, HOLD_TIME, client_addr(self.i), caps);
        let mut out = Vec::with_capacity(64);
        open.encode(&mut out);
        sock.write_all(&out).await.map_err(io("sending OPEN"))?;
        let mut buf = Buf::new();
        let mut ctx = SessionContext::ibgp();
        let mut hold = None;
        loop {
            while let Some((a, b)) = buf.next(&ctx)? {
                let (m, _) = Message::decode(&buf.data[a..b], &ctx)
                    .map_err(|e| ClientError::Decode(e.to_string()))?;
                match (m, hold) {
                    (Message::Open(o), None) => {
                        ctx = SessionContext::negotiate(&open, &o, false).0;
                        let mut ka = Vec::new();
                        encode_keepalive(&mut ka);
                        sock.write_all(&ka).await.map_err(io("sending KEEPALIVE"))?;
                        hold = Some(HOLD_TIME.min(o.hold_time));
                    }
                    (Message::Keepalive, Some(h)) => {
                        let ka = (h > 0).then(|| Duration::from_secs(u64::from(h) / 3));
                        return Ok((ctx, ka));
                    }
                    (Message::Notification(n), _) => {
                        return Err(ClientError::Notification {
                            code: n.code,
                            subcode: n.subcode,
                            when: "during the OPEN exchange",
                        })
                    }
                    (Message::Open(_), Some(_)) => {
                        return Err(ClientError::Unexpected("second OPEN"))
                    }
                    (Message::Update(_), _) => return Err(ClientError::Unexpected("UPDATE")),
                    (Message::RouteRefresh(_), _) => {
                        return Err(ClientError::Unexpected("ROUTE-REFRESH"))
                    }
                    (Message::Keepalive, None) => {
                        return Err(ClientError::Unexpected("KEEPALIVE before OPEN"))
                    }
                }
            }
            let n = sock
                .read(buf.room())
                .await
                .map_err(io("reading the OPEN exchange"))?;
            if n == 0 {
                return Err(ClientError::Closed("during the OPEN exchange"));
            }
            buf.end += n;
        }
    }

    /// The client's UPDATE (its pod prefix, itself as next hop), then End-of-RIB.
    fn announcement(&self) -> Result<Vec<u8>, ClientError> {
        let ctx = SessionContext::ibgp();
        let attrs = [
            PathAttribute::new(AttributeValue::Origin(Origin::Igp)),
            PathAttribute::new(AttributeValue::AsPath(AsPath::default())),
            PathAttribute::new(AttributeValue::NextHop(client_addr(self.i))),
            PathAttribute::new(AttributeValue::LocalPref(100)),
        ];
        let mut encoded = Vec::with_capacity(32);
        encode_attributes(&attrs, &ctx, &mut encoded);
        let packer = UpdatePacker::new(ctx);
        let mut out = Vec::with_capacity(128);
        let own = self.plan.prefix(self.i).map(Nlri::new);
        packer
            .announce_ipv4(&encoded, own, &mut out)
            .map_err(|e| ClientError::Encode(e.to_string()))?;
        packer.end_of_rib(Family::IPV4_UNICAST, &mut out);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_addresses_are_distinct_and_in_the_local_range() {
        assert_eq!(client_addr(0), Ipv4Addr::new(10, 100, 0, 1));
        assert_eq!(client_addr(254), Ipv4Addr::new(10, 100, 0, 255));
        assert_eq!(client_addr(255), Ipv4Addr::new(10, 100, 1, 0));
        assert_eq!(client_addr(4999), Ipv4Addr::new(10, 100, 19, 136));
    }

    #[test]
    fn a_client_announces_its_own_prefix_then_end_of_rib() {
        let c = Client {
            i: 7,
            plan: PrefixPlan::new(10).unwrap(),
            asn: 65000,
            rr: SocketAddrV4::new(Ipv4Addr::new(10, 98, 0, 1), 179),
            progress: Arc::default(),
        };
        let bytes = c.announcement().unwrap();
        let ctx = SessionContext::ibgp();
        let Ok(Frame::Ready(len, _)) = frame(&bytes, &ctx) else {
            panic!("no whole message");
        };
        let (m, _) = Message::decode(&bytes[..len], &ctx).unwrap();
        let Message::Update(u) = m else {
            panic!("not an UPDATE")
        };
        let got: Vec<_> = u.announced().map(|(_, n)| n.prefix).collect();
        assert_eq!(got, vec![c.plan.prefix(7).unwrap().into()]);
        assert_eq!(u.next_hop(), Some(client_addr(7)));
        assert_eq!(u.local_pref(), Some(100));
        let (m, _) = Message::decode(&bytes[len..], &ctx).unwrap();
        let Message::Update(eor) = m else {
            panic!("not an UPDATE")
        };
        assert_eq!(eor.end_of_rib(), Some(Family::IPV4_UNICAST));
    }
}
