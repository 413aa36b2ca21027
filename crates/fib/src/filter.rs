//! A socket filter for the kernel monitor: notifications about our own routes are dropped
//! in the kernel.
//!
//! Installing a full table makes the kernel announce a million routes to every listener of
//! `RTMGRP_IPV4_ROUTE`. The monitor has no use for them ([`KernelState::apply`] ignores
//! routes of our protocol id), yet without a filter each is copied to the socket, parsed,
//! queued and passed to the router, and a burst that outruns the reader overflows the
//! socket and loses notifications that do matter.
//!
//! [`KernelState::apply`]: crate::KernelState::apply

use std::io;
use std::os::fd::AsFd;

use libc::{sock_filter, BPF_ABS, BPF_B, BPF_H, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET};

use crate::FibConfig;

/// `RTM_NEWROUTE` and `RTM_DELROUTE` (rtnetlink(7)).
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
/// Offsets in a notification: `nlmsg_type` in the netlink header, then `rtm_protocol` in
/// the `rtmsg` that follows the 16-octet header.
const TYPE_AT: u32 = 4;
const PROTOCOL_AT: u32 = 16 + 5;

fn insn(code: u32, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// A classic BPF program that drops route notifications with protocol id `protocol` and
/// passes everything else. Netlink headers are in host order while BPF loads read network
/// order, hence the conversion of the message types.
pub(crate) fn program(protocol: u8) -> [sock_filter; 7] {
    let as_loaded = |t: u16| u32::from(u16::from_be_bytes(t.to_ne_bytes()));
    [
        insn(BPF_LD | BPF_H | BPF_ABS, 0, 0, TYPE_AT),
        // A new route: check its protocol; else a removed one; else pass.
        insn(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, as_loaded(RTM_NEWROUTE)),
        insn(BPF_JMP | BPF_JEQ | BPF_K, 0, 3, as_loaded(RTM_DELROUTE)),
        insn(BPF_LD | BPF_B | BPF_ABS, 0, 0, PROTOCOL_AT),
        insn(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, u32::from(protocol)),
        insn(BPF_RET | BPF_K, 0, 0, 0),
        insn(BPF_RET | BPF_K, 0, 0, u32::MAX),
    ]
}

/// Makes the kernel drop, before they reach `socket`, notifications about routes of our
/// protocol id (`cfg.protocol`). For a socket subscribed to route notifications.
pub fn ignore_own_routes(socket: &impl AsFd, cfg: &FibConfig) -> io::Result<()> {
    socket2::SockRef::from(socket).attach_filter(&program(cfg.protocol))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a classic BPF program of loads, equality jumps and returns over `pkt`, as the
    /// kernel would (a load past the end drops the packet).
    fn run(prog: &[sock_filter], pkt: &[u8]) -> u32 {
        let (mut a, mut pc) = (0u32, 0usize);
        loop {
            let i = prog[pc];
            let code = u32::from(i.code);
            pc += 1;
            match code {
                c if c == BPF_LD | BPF_H | BPF_ABS => match pkt.get(i.k as usize..i.k as usize + 2)
                {
                    Some(b) => a = u32::from(u16::from_be_bytes([b[0], b[1]])),
                    None => return 0,
                },
                c if c == BPF_LD | BPF_B | BPF_ABS => match pkt.get(i.k as usize) {
                    Some(b) => a = u32::from(*b),
                    None => return 0,
                },
                c if c == BPF_JMP | BPF_JEQ | BPF_K => {
                    pc += usize::from(if a == i.k { i.jt } else { i.jf });
                }
                c if c == BPF_RET | BPF_K => return i.k,
                c => panic!("instruction {c:#x} not expected"),
            }
        }
    }

    fn notification(kind: u16, protocol: u8) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&36u32.to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
        m.extend_from_slice(&[2, 24, 0, 0, 254, protocol, 0, 1, 0, 0, 0, 0]);
        m.extend_from_slice(&[8, 0, 1, 0, 10, 1, 0, 0]);
        m
    }

    #[test]
    fn notifications_about_our_routes_are_dropped_and_the_rest_passed() {
        let prog = program(186);
        assert_eq!(run(&prog, &notification(RTM_NEWROUTE, 186)), 0);
        assert_eq!(run(&prog, &notification(RTM_DELROUTE, 186)), 0);
        // Other protocols' routes (static, kernel, another daemon), and links/addresses.
        assert_eq!(run(&prog, &notification(RTM_NEWROUTE, 4)), u32::MAX);
        assert_eq!(run(&prog, &notification(RTM_DELROUTE, 2)), u32::MAX);
        assert_eq!(run(&prog, &notification(16, 186)), u32::MAX, "RTM_NEWLINK");
        assert_eq!(run(&prog, &notification(20, 186)), u32::MAX, "RTM_NEWADDR");
        assert_eq!(run(&program(42), &notification(RTM_NEWROUTE, 42)), 0);
    }
}
