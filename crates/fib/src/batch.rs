//! Writing many routes with few system calls.
//!
//! Route requests are packed, hundreds at a time, into one netlink datagram sent without
//! `NLM_F_ACK`: the kernel handles every request of a datagram before `sendmsg` returns,
//! and answers only the ones it refuses (`NLMSG_ERROR` with a negative errno), which are
//! then waiting in the socket's receive queue. One request and one acknowledgement per
//! route, each a system call and a task wake-up, cost more than the insertion itself.
//!
//! The requests carry their index in the batch as sequence number, so a refusal names its
//! route. The receive buffer is sized for a refusal of every request of a datagram; should
//! the kernel still drop refusals (`ENOBUFS`), the datagram's requests are sent again one
//! at a time, each acknowledged.

use std::io;
use std::os::fd::AsFd;

use rtnetlink::packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE,
    NLM_F_REQUEST,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use tracing::{debug, warn};

use crate::program::{prefix_message, route_message, Op, Stats};
use crate::{FibConfig, FibError};

/// Requests per datagram at most: about 20 KB of IPv4 routes.
const PER_SEND: usize = 256;
/// Refused routes logged one by one per batch; the rest are summed up in one line (a
/// kernel refusing a whole table must not write a million lines).
const LOGGED: usize = 16;
/// Receive buffer asked for: a refusal costs the socket about 1 KB of buffer.
const RCVBUF: usize = 1 << 20;
/// `NLMSG_ERROR` (netlink(7)).
const NLMSG_ERROR: u16 = 2;
/// No such route.
const ESRCH: i32 = nix::errno::Errno::ESRCH as i32;
/// The socket's receive buffer overflowed and messages were dropped.
const ENOBUFS: i32 = nix::errno::Errno::ENOBUFS as i32;
const EIO: i32 = nix::errno::Errno::EIO as i32;

/// A netlink socket for route requests, with its buffers.
#[derive(Debug)]
pub(crate) struct Writer {
    sock: Socket,
    /// Requests per datagram, bounded by the receive buffer the kernel granted.
    per_send: usize,
    out: Vec<u8>,
    inp: Vec<u8>,
}

/// The outcome of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    /// Refused, with this errno.
    Refused(i32),
}

impl Writer {
    /// Opens the socket in the calling thread's network namespace.
    pub(crate) fn open() -> Result<Self, FibError> {
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(FibError::Socket)?;
        sock.bind_auto().map_err(FibError::Socket)?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(FibError::Socket)?;
        // Refusals without a copy of the request (only its header, for the sequence).
        sock.set_cap_ack(true).map_err(FibError::Socket)?;
        // Above `net.core.rmem_max` needs CAP_NET_ADMIN, which writing routes needs too;
        // without it, the kernel's maximum is taken and datagrams are made smaller.
        if nix::sys::socket::setsockopt(
            &sock.as_fd(),
            nix::sys::socket::sockopt::RcvBufForce,
            &RCVBUF,
        )
        .is_err()
        {
            sock.set_rx_buf_sz(RCVBUF).map_err(FibError::Socket)?;
        }
        let granted = sock.get_rx_buf_sz().map_err(FibError::Socket)?;
        sock.set_non_blocking(true).map_err(FibError::Socket)?;
        Ok(Writer {
            sock,
            per_send: (granted / 2048).clamp(1, PER_SEND),
            out: Vec::with_capacity(64 << 10),
            inp: vec![0; 64 << 10],
        })
    }

    /// Applies `ops` in datagrams of many requests; refusals are counted and logged.
    pub(crate) fn apply(&mut self, ops: &[Op], cfg: &FibConfig) -> Stats {
        let mut stats = Stats::default();
        let mut outcomes = Vec::with_capacity(self.per_send);
        for chunk in ops.chunks(self.per_send) {
            outcomes.clear();
            outcomes.resize(chunk.len(), Outcome::Done);
            if let Err(e) = self.send_chunk(chunk, cfg, &mut outcomes) {
                // Refusals were lost, or the datagram was not taken: one at a time.
                debug!(error = %e, requests = chunk.len(), "sending the requests one by one");
                self.send_each(chunk, cfg, &mut outcomes);
            }
            for (op, outcome) in chunk.iter().zip(&outcomes) {
                count(op, *outcome, &mut stats);
            }
        }
        if stats.failed > LOGGED {
            warn!(
                refused = stats.failed,
                logged = LOGGED,
                "the kernel refused more route changes than were logged one by one"
            );
        }
        stats
    }

    /// Sends `chunk` as one datagram and collects the refusals.
    fn send_chunk(
        &mut self,
        chunk: &[Op],
        cfg: &FibConfig,
        outcomes: &mut [Outcome],
    ) -> io::Result<()> {
        self.drain(&mut [])?;
        self.out.clear();
        for (i, op) in chunk.iter().enumerate() {
            push_request(&mut self.out, op, cfg, i as u32, false);
        }
        let sent = self.sock.send(&self.out, 0)?;
        if sent != self.out.len() {
            return Err(io::Error::other(format!(
                "netlink took {sent} of {} octets",
                self.out.len()
            )));
        }
        self.drain(outcomes)
    }

    /// Sends each request of `chunk` alone, asking for its acknowledgement. Some may have
    /// been applied by a datagram whose refusals were lost: a removal that finds no route
    /// is then taken as done.
    fn send_each(&mut self, chunk: &[Op], cfg: &FibConfig, outcomes: &mut [Outcome]) {
        for (i, op) in chunk.iter().enumerate() {
            self.out.clear();
            push_request(&mut self.out, op, cfg, 0, true);
            outcomes[i] = Outcome::Done;
            let res = self
                .sock
                .send(&self.out, 0)
                .and_then(|_| self.drain(&mut outcomes[i..=i]));
            if let Err(e) = res {
                outcomes[i] = Outcome::Refused(e.raw_os_error().unwrap_or(EIO));
            }
            if matches!(op, Op::Delete(_)) && outcomes[i] == Outcome::Refused(ESRCH) {
                outcomes[i] = Outcome::Done;
            }
        }
    }

    /// Reads every answer waiting in the receive queue and records refusals, by sequence
    /// number, in `outcomes` (answers to other sequence numbers are dropped).
    fn drain(&mut self, outcomes: &mut [Outcome]) -> io::Result<()> {
        loop {
            let dontwait = nix::sys::socket::MsgFlags::MSG_DONTWAIT.bits();
            let n = match self.sock.recv(&mut &mut self.inp[..], dontwait) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.raw_os_error() == Some(ENOBUFS) => return Err(e),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            for (seq, code) in refusals(&self.inp[..n]) {
                if let Some(o) = outcomes.get_mut(seq as usize) {
                    *o = if code == 0 {
                        Outcome::Done
                    } else {
                        Outcome::Refused(-code)
                    };
                }
            }
        }
    }
}

/// Adds the request for `op` to `out`, with sequence number `seq`.
fn push_request(out: &mut Vec<u8>, op: &Op, cfg: &FibConfig, seq: u32, ack: bool) {
    let (payload, flags) = match op {
        Op::Replace(r) => (
            RouteNetlinkMessage::NewRoute(route_message(r, cfg)),
            NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE,
        ),
        Op::Delete(p) => (
            RouteNetlinkMessage::DelRoute(prefix_message(*p, cfg)),
            NLM_F_REQUEST,
        ),
    };
    let mut header = NetlinkHeader::default();
    header.flags = flags | if ack { NLM_F_ACK } else { 0 };
    header.sequence_number = seq;
    let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(payload));
    msg.finalize();
    let start = out.len();
    out.resize(start + msg.buffer_len(), 0);
    msg.serialize(&mut out[start..]);
}

/// The `(sequence number, error code)` of every `NLMSG_ERROR` in a datagram (code 0 is an
/// acknowledgement). Parsed by hand: with `NETLINK_CAP_ACK` an error carries only the
/// request's header, which the generic parser does not expect.
fn refusals(mut d: &[u8]) -> impl Iterator<Item = (u32, i32)> + '_ {
    std::iter::from_fn(move || loop {
        let (hdr, _) = d.split_first_chunk::<16>()?;
        let len = u32::from_ne_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize;
        if len < 16 || len > d.len() {
            return None;
        }
        let (msg, rest) = d.split_at(len);
        d = rest
            .get(len.next_multiple_of(4) - len..)
            .unwrap_or_default();
        let kind = u16::from_ne_bytes([hdr[4], hdr[5]]);
        // nlmsgerr: error (i32), then the request's header, whose sequence is at 8.
        if kind == NLMSG_ERROR && msg.len() >= 16 + 4 + 16 {
            let code = i32::from_ne_bytes([msg[16], msg[17], msg[18], msg[19]]);
            let seq = u32::from_ne_bytes([msg[28], msg[29], msg[30], msg[31]]);
            return Some((seq, code));
        }
    })
}

fn count(op: &Op, outcome: Outcome, s: &mut Stats) {
    match (op, outcome) {
        (Op::Replace(_), Outcome::Done) => s.installed += 1,
        (Op::Delete(_), Outcome::Done) => s.removed += 1,
        (Op::Replace(r), Outcome::Refused(errno)) => {
            s.failed += 1;
            if s.failed <= LOGGED {
                let error = io::Error::from_raw_os_error(errno);
                warn!(prefix = %r.prefix, %error, "kernel refused route");
            }
        }
        (Op::Delete(p), Outcome::Refused(errno)) => {
            s.failed += 1;
            let error = io::Error::from_raw_os_error(errno);
            debug!(prefix = %p, %error, "route removal failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_message(seq: u32, code: i32) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&36u32.to_ne_bytes());
        m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&code.to_ne_bytes());
        // The request's header: length, type, flags, sequence, port.
        m.extend_from_slice(&60u32.to_ne_bytes());
        m.extend_from_slice(&24u16.to_ne_bytes());
        m.extend_from_slice(&0x501u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m
    }

    #[test]
    fn refusals_name_the_request_by_its_sequence_number() {
        let mut d = error_message(7, -22);
        d.extend(error_message(250, -3));
        d.extend(error_message(3, 0));
        assert_eq!(
            refusals(&d).collect::<Vec<_>>(),
            [(7, -22), (250, -3), (3, 0)]
        );
    }

    #[test]
    fn truncated_or_foreign_messages_end_the_walk_without_a_panic() {
        let d = error_message(7, -22);
        for cut in 0..d.len() {
            assert_eq!(refusals(&d[..cut]).count(), 0, "cut at {cut}");
        }
        let mut bad = d.clone();
        bad[0] = 4; // a length below the header's
        assert_eq!(refusals(&bad).count(), 0);
        let mut other = d.clone();
        other[4] = 24; // RTM_NEWROUTE, not an error
        other.extend(error_message(9, -17));
        assert_eq!(refusals(&other).collect::<Vec<_>>(), [(9, -17)]);
    }
}
