//! A scripted BGP peer on a blocking TCP socket, for the edge cases no daemon produces on
//! demand: OPEN and NOTIFICATION come from `bgp-wire`, UPDATEs are built byte by byte
//! (so that they can be malformed on purpose) by [`wire`].

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bgp_wire::{Capability, Family, Notification, Open};

use super::netns::within;

/// Message types (RFC 4271 §4.1, RFC 2918).
pub(crate) mod ty {
    /// OPEN.
    pub(crate) const OPEN: u8 = 1;
    /// UPDATE.
    pub(crate) const UPDATE: u8 = 2;
    /// NOTIFICATION.
    pub(crate) const NOTIFICATION: u8 = 3;
    /// KEEPALIVE.
    pub(crate) const KEEPALIVE: u8 = 4;
    /// ROUTE-REFRESH.
    pub(crate) const ROUTE_REFRESH: u8 = 5;
}

/// One received message: its type and its bytes (header included).
#[derive(Debug, Clone)]
pub(crate) struct Msg {
    /// Message type.
    pub(crate) ty: u8,
    /// The whole message.
    pub(crate) bytes: Vec<u8>,
}

impl Msg {
    /// The NOTIFICATION, if it is one.
    pub(crate) fn notification(&self) -> Option<Notification> {
        (self.ty == ty::NOTIFICATION)
            .then(|| Notification::decode(&self.bytes).ok())
            .flatten()
    }
}

/// Why no message came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecvError {
    /// Nothing within the time allowed.
    Timeout,
    /// The other side closed the connection.
    Closed,
    /// A socket error.
    Io(String),
}

/// One TCP connection of the scripted peer.
pub(crate) struct RawPeer {
    reader: TcpStream,
    writer: Arc<Mutex<TcpStream>>,
    buf: Vec<u8>,
    keepalives: Option<Arc<AtomicBool>>,
    /// Which connection this is, for messages.
    pub(crate) label: String,
}

/// Listens on `addr` inside namespace `ns`.
pub(crate) fn listen(ns: &str, addr: SocketAddr) -> TcpListener {
    within(ns, move || TcpListener::bind(addr)).unwrap_or_else(|e| panic!("listen on {addr}: {e}"))
}

/// Connects from namespace `ns` to `to`, retrying for up to `timeout` (the listener may
/// not be up yet).
pub(crate) fn connect(ns: &str, to: SocketAddr, timeout: Duration) -> TcpStream {
    let start = Instant::now();
    loop {
        match within(ns, move || {
            TcpStream::connect_timeout(&to, Duration::from_secs(2))
        }) {
            Ok(s) => return s,
            Err(e) if start.elapsed() < timeout => {
                let _ = e;
                std::thread::sleep(super::POLL);
            }
            Err(e) => panic!("connecting to {to}: {e}"),
        }
    }
}

/// One connection attempt from namespace `ns` to `to`, waiting up to `timeout`.
pub(crate) fn try_connect(
    ns: &str,
    to: SocketAddr,
    timeout: Duration,
) -> std::io::Result<TcpStream> {
    within(ns, move || TcpStream::connect_timeout(&to, timeout))
}

/// Accepts one connection within `timeout`.
pub(crate) fn accept(l: &TcpListener, timeout: Duration) -> TcpStream {
    l.set_nonblocking(true).expect("non-blocking listener");
    let start = Instant::now();
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).expect("blocking stream");
                return s;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock && start.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("no connection accepted within {timeout:?}: {e}"),
        }
    }
}

/// The scripted peer's usual capabilities: IPv4 and IPv6 unicast, route refresh,
/// 4-octet AS.
pub(crate) fn capabilities(asn: u32) -> Vec<Capability> {
    vec![
        Capability::Multiprotocol(Family::IPV4_UNICAST),
        Capability::Multiprotocol(Family::IPV6_UNICAST),
        Capability::RouteRefresh,
        Capability::FourOctetAs(asn),
    ]
}

/// An OPEN with the given capabilities.
pub(crate) fn open_with(asn: u32, hold: u16, id: Ipv4Addr, caps: Vec<Capability>) -> Vec<u8> {
    let mut out = Vec::new();
    Open::new(asn, hold, id, caps).encode(&mut out);
    out
}

/// The OPEN of the scripted peer, with [`capabilities`].
pub(crate) fn open(asn: u32, hold: u16, id: Ipv4Addr) -> Vec<u8> {
    open_with(asn, hold, id, capabilities(asn))
}

impl RawPeer {
    /// Wraps a connected socket.
    pub(crate) fn new(stream: TcpStream, label: &str) -> RawPeer {
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let writer = stream.try_clone().expect("cloning the socket");
        RawPeer {
            reader: stream,
            writer: Arc::new(Mutex::new(writer)),
            buf: Vec::new(),
            keepalives: None,
            label: label.into(),
        }
    }

    /// Sends raw bytes (one or more messages).
    pub(crate) fn send(&self, bytes: &[u8]) {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        w.write_all(bytes)
            .unwrap_or_else(|e| panic!("{}: sending: {e}", self.label));
    }

    /// Sends a KEEPALIVE.
    pub(crate) fn send_keepalive(&self) {
        let mut k = Vec::new();
        bgp_wire::encode_keepalive(&mut k);
        self.send(&k);
    }

    /// Sends a KEEPALIVE every `interval` from a thread until [`RawPeer::stop_keepalives`]
    /// or drop.
    pub(crate) fn keepalives(&mut self, interval: Duration) {
        let stop = Arc::new(AtomicBool::new(false));
        self.keepalives = Some(stop.clone());
        let writer = self.writer.clone();
        std::thread::spawn(move || {
            let mut k = Vec::new();
            bgp_wire::encode_keepalive(&mut k);
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(interval);
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
                if w.write_all(&k).is_err() {
                    break;
                }
            }
        });
    }

    /// Stops the KEEPALIVE thread.
    pub(crate) fn stop_keepalives(&mut self) {
        if let Some(s) = self.keepalives.take() {
            s.store(true, Ordering::SeqCst);
        }
    }

    /// The next message, waiting up to `timeout`.
    pub(crate) fn recv(&mut self, timeout: Duration) -> Result<Msg, RecvError> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.buf.len() >= 19 {
                let len = usize::from(u16::from_be_bytes([self.buf[16], self.buf[17]]));
                assert!(
                    len >= 19 && self.buf[..16].iter().all(|&b| b == 0xff),
                    "{}: bad message header {:02x?}",
                    self.label,
                    &self.buf[..19]
                );
                if self.buf.len() >= len {
                    let bytes: Vec<u8> = self.buf.drain(..len).collect();
                    return Ok(Msg {
                        ty: bytes[18],
                        bytes,
                    });
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RecvError::Timeout);
            }
            self.reader
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .map_err(|e| RecvError::Io(e.to_string()))?;
            let mut chunk = [0u8; 8192];
            match self.reader.read(&mut chunk) {
                Ok(0) => return Err(RecvError::Closed),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return Err(RecvError::Closed),
                Err(e) => return Err(RecvError::Io(e.to_string())),
            }
        }
    }

    /// Reads messages until one satisfies `want`, within `timeout`; panics otherwise.
    pub(crate) fn recv_until(
        &mut self,
        what: &str,
        timeout: Duration,
        mut want: impl FnMut(&Msg) -> bool,
    ) -> Msg {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left) {
                Ok(m) if want(&m) => return m,
                Ok(m) => {
                    if let Some(n) = m.notification() {
                        panic!(
                            "{}: NOTIFICATION {n:?} while waiting for {what}",
                            self.label
                        );
                    }
                }
                Err(e) => panic!("{}: {e:?} while waiting for {what}", self.label),
            }
        }
    }

    /// The next OPEN.
    pub(crate) fn recv_open(&mut self, timeout: Duration) -> Open {
        let m = self.recv_until("an OPEN", timeout, |m| m.ty == ty::OPEN);
        Open::decode(&m.bytes).unwrap_or_else(|e| panic!("{}: bad OPEN: {e}", self.label))
    }

    /// Opens the session: sends our OPEN, reads the other's OPEN and KEEPALIVE, sends a
    /// KEEPALIVE. Returns the other side's OPEN.
    pub(crate) fn establish(&mut self, asn: u32, hold: u16, id: Ipv4Addr) -> Open {
        self.establish_with(&open(asn, hold, id))
    }

    /// [`RawPeer::establish`] with a ready-made OPEN.
    pub(crate) fn establish_with(&mut self, our_open: &[u8]) -> Open {
        self.send(our_open);
        let theirs = self.recv_open(Duration::from_secs(10));
        self.recv_until("a KEEPALIVE", Duration::from_secs(10), |m| {
            m.ty == ty::KEEPALIVE
        });
        self.send_keepalive();
        theirs
    }

    /// Reads until a NOTIFICATION arrives (skipping everything else) and returns it.
    pub(crate) fn recv_notification(&mut self, timeout: Duration) -> Notification {
        let m = self.recv_until("a NOTIFICATION", timeout, |m| m.ty == ty::NOTIFICATION);
        m.notification()
            .unwrap_or_else(|| panic!("{}: undecodable NOTIFICATION", self.label))
    }

    /// Checks for `during` that no NOTIFICATION comes and the connection stays open.
    pub(crate) fn stays_up(&mut self, during: Duration) -> Result<(), String> {
        let deadline = Instant::now() + during;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            match self.recv(left) {
                Ok(m) => {
                    if let Some(n) = m.notification() {
                        return Err(format!("{}: NOTIFICATION {n:?}", self.label));
                    }
                }
                Err(RecvError::Timeout) => return Ok(()),
                Err(e) => return Err(format!("{}: {e:?}", self.label)),
            }
        }
    }
}

impl Drop for RawPeer {
    fn drop(&mut self) {
        self.stop_keepalives();
        let _ = self.reader.shutdown(std::net::Shutdown::Both);
    }
}

/// Building and reading UPDATE messages byte by byte.
pub(crate) mod wire {
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// Attribute flags (RFC 4271 §4.3).
    pub(crate) mod flags {
        /// Optional.
        pub(crate) const OPTIONAL: u8 = 0x80;
        /// Transitive.
        pub(crate) const TRANSITIVE: u8 = 0x40;
        /// Partial.
        pub(crate) const PARTIAL: u8 = 0x20;
        /// Extended length.
        pub(crate) const EXTENDED: u8 = 0x10;
    }

    /// A whole message of type `ty` around `body`.
    pub(crate) fn message(ty: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![0xff; 16];
        m.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
        m.push(ty);
        m.extend_from_slice(body);
        m
    }

    /// One path attribute.
    pub(crate) fn attr(flags: u8, code: u8, value: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        if value.len() > 255 {
            a.extend_from_slice(&[flags | flags::EXTENDED, code]);
            a.extend_from_slice(&(value.len() as u16).to_be_bytes());
        } else {
            a.extend_from_slice(&[flags & !flags::EXTENDED, code, value.len() as u8]);
        }
        a.extend_from_slice(value);
        a
    }

    /// ORIGIN with any value (0 IGP, 1 EGP, 2 INCOMPLETE; anything else is malformed).
    pub(crate) fn origin(v: u8) -> Vec<u8> {
        attr(flags::TRANSITIVE, 1, &[v])
    }

    /// AS_PATH with one AS_SEQUENCE of 4-octet ASNs.
    pub(crate) fn as_path(asns: &[u32]) -> Vec<u8> {
        let mut v = vec![2, asns.len() as u8];
        for a in asns {
            v.extend_from_slice(&a.to_be_bytes());
        }
        attr(flags::TRANSITIVE, 2, &v)
    }

    /// NEXT_HOP.
    pub(crate) fn next_hop(nh: Ipv4Addr) -> Vec<u8> {
        attr(flags::TRANSITIVE, 3, &nh.octets())
    }

    /// An IPv4 prefix in NLRI encoding.
    pub(crate) fn nlri4(prefix: &str) -> Vec<u8> {
        let (addr, len) = prefix.split_once('/').expect("prefix/len");
        let addr: Ipv4Addr = addr.parse().expect("IPv4 prefix");
        let len: u8 = len.parse().expect("length");
        let mut v = vec![len];
        v.extend_from_slice(&addr.octets()[..usize::from(len).div_ceil(8)]);
        v
    }

    /// An IPv6 prefix in NLRI encoding.
    pub(crate) fn nlri6(prefix: &str) -> Vec<u8> {
        let (addr, len) = prefix.split_once('/').expect("prefix/len");
        let addr: Ipv6Addr = addr.parse().expect("IPv6 prefix");
        let len: u8 = len.parse().expect("length");
        let mut v = vec![len];
        v.extend_from_slice(&addr.octets()[..usize::from(len).div_ceil(8)]);
        v
    }

    /// MP_REACH_NLRI for IPv6 unicast with the next hop given as raw bytes (any length).
    pub(crate) fn mp_reach_v6(next_hop: &[u8], nlri: &[u8]) -> Vec<u8> {
        let mut v = vec![0, 2, 1, next_hop.len() as u8];
        v.extend_from_slice(next_hop);
        v.push(0); // reserved
        v.extend_from_slice(nlri);
        attr(flags::OPTIONAL, 14, &v)
    }

    /// An UPDATE message.
    pub(crate) fn update(withdrawn: &[u8], attrs: &[Vec<u8>], nlri: &[u8]) -> Vec<u8> {
        let attrs: Vec<u8> = attrs.concat();
        let mut body = Vec::new();
        body.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
        body.extend_from_slice(withdrawn);
        body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        body.extend_from_slice(&attrs);
        body.extend_from_slice(nlri);
        message(super::ty::UPDATE, &body)
    }

    /// A path attribute as received.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) struct Attr {
        /// Flags.
        pub(crate) flags: u8,
        /// Type code.
        pub(crate) code: u8,
        /// Value.
        pub(crate) value: Vec<u8>,
    }

    /// An UPDATE as received: IPv4 withdrawals, path attributes, IPv4 NLRI.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct Parsed {
        /// Withdrawn IPv4 prefixes.
        pub(crate) withdrawn: Vec<String>,
        /// Path attributes in wire order.
        pub(crate) attrs: Vec<Attr>,
        /// Announced IPv4 prefixes.
        pub(crate) nlri: Vec<String>,
    }

    impl Parsed {
        /// The attribute of type `code`, if present.
        pub(crate) fn attr(&self, code: u8) -> Option<&Attr> {
            self.attrs.iter().find(|a| a.code == code)
        }
    }

    fn prefixes4(mut n: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        while let Some((&len, rest)) = n.split_first() {
            let bytes = usize::from(len).div_ceil(8);
            let mut o = [0u8; 4];
            o[..bytes].copy_from_slice(&rest[..bytes]);
            out.push(format!("{}/{len}", Ipv4Addr::from(o)));
            n = &rest[bytes..];
        }
        out
    }

    /// Parses an UPDATE (header included).
    pub(crate) fn parse_update(msg: &[u8]) -> Parsed {
        let body = &msg[19..];
        let wlen = usize::from(u16::from_be_bytes([body[0], body[1]]));
        let withdrawn = prefixes4(&body[2..2 + wlen]);
        let rest = &body[2 + wlen..];
        let alen = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let mut a = &rest[2..2 + alen];
        let mut attrs = Vec::new();
        while a.len() >= 3 {
            let (fl, code) = (a[0], a[1]);
            let (len, hdr) = if fl & flags::EXTENDED != 0 {
                (usize::from(u16::from_be_bytes([a[2], a[3]])), 4)
            } else {
                (usize::from(a[2]), 3)
            };
            attrs.push(Attr {
                flags: fl,
                code,
                value: a[hdr..hdr + len].to_vec(),
            });
            a = &a[hdr + len..];
        }
        Parsed {
            withdrawn,
            attrs,
            nlri: prefixes4(&rest[2 + alen..]),
        }
    }

    /// A ROUTE-REFRESH message (RFC 2918; subtype per RFC 7313: 0 request, 1 BoRR, 2 EoRR).
    pub(crate) fn route_refresh(afi: u16, subtype: u8, safi: u8) -> Vec<u8> {
        let mut body = afi.to_be_bytes().to_vec();
        body.extend_from_slice(&[subtype, safi]);
        message(super::ty::ROUTE_REFRESH, &body)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn an_update_built_here_parses_back() {
            let m = update(
                &[],
                &[
                    origin(0),
                    as_path(&[65001]),
                    next_hop(Ipv4Addr::new(10, 0, 0, 1)),
                ],
                &[nlri4("10.5.1.0/24"), nlri4("10.128.0.0/9")].concat(),
            );
            let p = parse_update(&m);
            assert_eq!(p.attrs.len(), 3);
            let origin = Attr {
                flags: 0x40,
                code: 1,
                value: vec![0],
            };
            assert_eq!(p.attrs[0], origin);
            assert_eq!(p.nlri, ["10.5.1.0/24", "10.128.0.0/9"]);
            let w = update(&nlri4("10.5.1.0/24"), &[], &[]);
            assert_eq!(parse_update(&w).withdrawn, ["10.5.1.0/24"]);
        }
    }
}
