//! One TCP connection of a session task: its FSM, socket halves and timers.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::warn;

use super::{FromSession, SessionId, SessionSpec};
use crate::fsm::Fsm;
use crate::negotiate::Negotiated;

/// A connection and the FSM that runs on it.
pub(super) struct Conn {
    pub(super) fsm: Fsm,
    pub(super) outgoing: bool,
    pub(super) reader: Option<OwnedReadHalf>,
    pub(super) writer: Option<mpsc::UnboundedSender<(Vec<u8>, bool)>>,
    pub(super) local: Option<SocketAddr>,
    pub(super) remote: Option<SocketAddr>,
    pub(super) buf: Vec<u8>,
    pub(super) hold: Option<Instant>,
    pub(super) keepalive: Option<Instant>,
    pub(super) connect_retry: Option<Instant>,
    pub(super) bfd_hold: Option<Instant>,
    pub(super) connecting: Option<tokio::task::JoinHandle<std::io::Result<TcpStream>>>,
    pub(super) negotiated: Option<Box<Negotiated>>,
}

impl Conn {
    pub(super) fn new(spec: &SessionSpec, passive: bool, bfd_up: bool) -> Self {
        Conn {
            fsm: Fsm::new(spec.params.clone(), passive, spec.connect_retry)
                .with_bfd(bfd_up, spec.bfd_hold_time),
            outgoing: false,
            reader: None,
            writer: None,
            local: None,
            remote: None,
            buf: Vec::with_capacity(1 << 16),
            hold: None,
            keepalive: None,
            connect_retry: None,
            bfd_hold: None,
            connecting: None,
            negotiated: None,
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        [self.hold, self.keepalive, self.connect_retry, self.bfd_hold]
            .into_iter()
            .flatten()
            .min()
    }

    pub(super) fn send(&self, bytes: Vec<u8>, notify: bool) {
        if let Some(w) = &self.writer {
            let _ = w.send((bytes, notify));
        }
    }

    pub(super) fn attach(
        &mut self,
        stream: TcpStream,
        spec: &SessionSpec,
        id: SessionId,
        to_actor: &mpsc::Sender<FromSession>,
    ) {
        let _ = stream.set_nodelay(true);
        if let Some(ttl) = spec.ttl {
            set_ttl(&stream, ttl);
        }
        if let Some(min) = spec.min_ttl {
            if let Err(e) = crate::runtime::sockopt::set_min_ttl(&stream, min) {
                warn!(%e, "cannot set the minimum TTL {min} (GTSM)");
            }
        }
        self.local = stream.local_addr().ok();
        self.remote = stream.peer_addr().ok();
        let (r, mut w) = stream.into_split();
        self.reader = Some(r);
        let (tx, mut rx) = mpsc::unbounded_channel::<(Vec<u8>, bool)>();
        self.writer = Some(tx);
        let to_actor = to_actor.clone();
        tokio::spawn(async move {
            while let Some((bytes, notify)) = rx.recv().await {
                if w.write_all(&bytes).await.is_err() {
                    break;
                }
                if notify && to_actor.send(FromSession::Drained { id }).await.is_err() {
                    break;
                }
            }
            let _ = w.shutdown().await;
        });
    }

    pub(super) fn detach(&mut self) {
        self.reader = None;
        self.writer = None; // the writer task flushes what is queued, then closes
        self.buf.clear();
        if let Some(c) = self.connecting.take() {
            c.abort();
        }
    }
}

fn set_ttl(stream: &TcpStream, ttl: u8) {
    let sock = socket2::SockRef::from(stream);
    let r = match stream.local_addr() {
        Ok(SocketAddr::V6(_)) => sock.set_unicast_hops_v6(u32::from(ttl)),
        _ => sock.set_ttl(u32::from(ttl)),
    };
    if let Err(e) = r {
        warn!(%e, "cannot set TTL {ttl}");
    }
}

pub(super) fn jitter(secs: u32) -> Duration {
    // RFC 4271 §10: a random factor between 0.75 and 1.0.
    Duration::from_secs_f64(f64::from(secs) * (0.75 + fastrand::f64() * 0.25))
}
