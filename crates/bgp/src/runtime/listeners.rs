//! The listening sockets' per-peer settings: TCP MD5 keys (RFC 2385) of neighbors and
//! listen ranges, and the TTL GTSM needs (RFC 5082).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use tracing::{error, warn};

use super::{sockopt, Actor};

impl Actor {
    /// Sets the MD5 keys of the neighbors and of the listen ranges on the listeners, and
    /// removes those no longer configured (RFC 2385: a connection whose segments are not
    /// signed with the key is never set up).
    pub(super) fn sync_listeners(&mut self) {
        self.sync_md5();
        // GTSM (RFC 5082 §3): every packet of the session at TTL 255, the SYN-ACK too,
        // which goes out with the listener's TTL.
        let gtsm = self
            .cfg
            .neighbors()
            .iter()
            .any(|n| n.ttl_security.is_some())
            || self
                .cfg
                .peer_groups
                .values()
                .any(|g| g.ttl_security.is_some());
        for l in &self.listeners {
            let s = socket2::SockRef::from(&**l);
            let ttl = if gtsm { 255 } else { 64 };
            let r = match l.local_addr() {
                Ok(SocketAddr::V6(_)) => s.set_unicast_hops_v6(ttl),
                _ => s.set_ttl(ttl),
            };
            if let Err(e) = r {
                warn!(%e, "cannot set the TTL of a listener");
            }
        }
    }

    fn sync_md5(&mut self) {
        let mut want: HashMap<(IpAddr, Option<u8>), String> = HashMap::new();
        for n in self.cfg.neighbors() {
            if let (Some(pw), None) = (&n.password, &n.interface) {
                want.insert((n.address, None), pw.clone());
            }
        }
        for r in &self.cfg.router.listen_ranges {
            let pw = self
                .cfg
                .peer_groups
                .get(&r.peer_group)
                .and_then(|g| g.password.clone());
            if let Some(pw) = pw {
                want.insert((r.prefix.addr(), Some(r.prefix.prefix_len())), pw);
            }
        }
        let old = std::mem::take(&mut self.md5_keys);
        for (addr, len) in old.keys().filter(|k| !want.contains_key(k)) {
            self.set_listener_md5(*addr, *len, None);
        }
        for ((addr, len), pw) in &want {
            if old.get(&(*addr, *len)) != Some(pw) {
                self.set_listener_md5(*addr, *len, Some(pw));
            }
        }
        self.md5_keys = want;
    }

    fn set_listener_md5(&self, addr: IpAddr, len: Option<u8>, key: Option<&str>) {
        for l in &self.listeners {
            let Ok(local) = l.local_addr() else { continue };
            // A key only goes on listeners of its family (IPv4 ones on IPv4 listeners:
            // ours are IPv6-only).
            if local.is_ipv4() != addr.is_ipv4() {
                continue;
            }
            if let Err(e) = sockopt::set_md5(&**l, addr, len, key.map(str::as_bytes)) {
                error!(peer = %addr, %local, %e, "cannot set the TCP MD5 key on the listener");
            }
        }
    }
}
