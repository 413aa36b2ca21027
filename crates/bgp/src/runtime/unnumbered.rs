//! Unnumbered neighbors, named by interface (FRR's `neighbor net0 interface`): router
//! advertisements make the two ends of the link known to each other, as FRR's zebra
//! does; the session runs over the link-local addresses, and IPv4 routes travel with
//! IPv6 next hops (RFC 8950), installed in the kernel through the link-local next hop.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

use bgp_wire::notification::{cease, codes};
use bgp_wire::Notification;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::session::ToSession;
use super::{Actor, Control};

/// ICMPv6 Router Solicitation and Advertisement (RFC 4861 §4.1, §4.2).
const ROUTER_SOLICITATION: u8 = 133;
const ROUTER_ADVERTISEMENT: u8 = 134;
/// How often we advertise on an unnumbered link (FRR uses 10 s for BGP unnumbered).
const RA_INTERVAL: Duration = Duration::from_secs(10);

/// What the router knows of one unnumbered link.
pub(super) struct Link {
    ifindex: u32,
    /// The peer's link-local address, once heard.
    pub(super) peer: Option<Ipv6Addr>,
    /// Advertisement and listener tasks.
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Link {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// An advertisement that announces us but makes nobody use us as a default router
/// (router lifetime 0): 16 octets, the checksum filled in by the kernel.
fn router_advertisement() -> [u8; 16] {
    let mut p = [0u8; 16];
    p[0] = ROUTER_ADVERTISEMENT;
    p[4] = 64; // Cur Hop Limit
    p
}

fn router_solicitation() -> [u8; 8] {
    let mut p = [0u8; 8];
    p[0] = ROUTER_SOLICITATION;
    p
}

fn icmp_socket(ifname: &str, ifindex: u32) -> std::io::Result<Socket> {
    let s = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
    s.bind_device(Some(ifname.as_bytes()))?;
    // RFC 4861 §6.1.2: neighbor discovery packets carry hop limit 255.
    s.set_multicast_hops_v6(255)?;
    s.set_unicast_hops_v6(255)?;
    s.set_multicast_if_v6(ifindex)?;
    s.set_multicast_loop_v6(false)?;
    // Solicitations go to all-routers.
    s.join_multicast_v6(&Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2), ifindex)?;
    s.set_nonblocking(true)?;
    Ok(s)
}

/// Sends advertisements on the link (at start, every [`RA_INTERVAL`], and in answer to
/// solicitations) and reports the source of every advertisement heard.
async fn advertise(
    ifname: String,
    ifindex: u32,
    ctl: mpsc::Sender<Control>,
) -> std::io::Result<()> {
    // A raw socket is message-oriented: tokio's datagram API (recvfrom/sendto) drives it.
    let sock = tokio::net::UdpSocket::from_std(icmp_socket(&ifname, ifindex)?.into())?;
    let group = |last: u16| {
        SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, last),
            0,
            0,
            ifindex,
        ))
    };
    let (all_nodes, all_routers) = (group(1), group(2));
    let send = |to: SocketAddr, pkt: &[u8]| {
        if let Err(e) = sock.try_send_to(pkt, to) {
            debug!(%ifname, %e, "ICMPv6 not sent");
        }
    };
    send(all_routers, &router_solicitation());
    send(all_nodes, &router_advertisement());
    let mut tick = tokio::time::interval(RA_INTERVAL);
    let mut buf = [0u8; 1500];
    let mut heard: Option<Ipv6Addr> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => send(all_nodes, &router_advertisement()),
            r = sock.recv_from(&mut buf) => {
                let (n, from) = match r {
                    Ok(x) => x,
                    Err(e) => {
                        debug!(%ifname, %e, "ICMPv6 receive failed");
                        continue;
                    }
                };
                let IpAddr::V6(src) = from.ip() else { continue };
                if n < 4 || src.segments()[0] & 0xffc0 != 0xfe80 {
                    continue;
                }
                match buf[0] {
                    ROUTER_ADVERTISEMENT => {
                        // A new router on the link may have missed our last advertisement.
                        if heard != Some(src) {
                            heard = Some(src);
                            send(all_nodes, &router_advertisement());
                        }
                        if ctl.send(Control::LinkPeer(ifname.clone(), src)).await.is_err() {
                            return Ok(());
                        }
                    }
                    ROUTER_SOLICITATION => send(all_nodes, &router_advertisement()),
                    _ => {}
                }
            }
        }
    }
}

/// Accepts connections on our link-local address of the link.
async fn listen(local: SocketAddrV6, ctl: mpsc::Sender<Control>) -> std::io::Result<()> {
    let sock = tokio::net::TcpSocket::new_v6()?;
    sock.set_reuseaddr(true)?;
    // The link-local address may still be tentative (duplicate address detection).
    socket2::SockRef::from(&sock).set_freebind_ipv6(true)?;
    socket2::SockRef::from(&sock).set_unicast_hops_v6(255)?;
    super::sockopt::save_syn(&sock)?;
    sock.bind(SocketAddr::V6(local))?;
    let l = sock.listen(64)?;
    loop {
        let (stream, remote) = l.accept().await?;
        if ctl.send(Control::Incoming(stream, remote)).await.is_err() {
            return Ok(());
        }
    }
}

impl Actor {
    /// Starts advertising and listening on the links of unnumbered neighbors that exist
    /// now (called at start and after kernel changes); forgets links that are gone.
    pub(super) fn sync_unnumbered(&mut self) {
        let wanted: Vec<String> = self
            .cfg
            .neighbors()
            .into_iter()
            .filter_map(|n| n.interface)
            .collect();
        self.links.retain(|name, _| wanted.contains(name));
        let Some(kernel) = self.fib.as_ref().map(|f| f.kernel_state()) else {
            return;
        };
        for name in wanted {
            let k = kernel.borrow();
            let Some(ifindex) = k.link_index(&name) else {
                continue;
            };
            if self.links.get(&name).is_some_and(|l| l.ifindex == ifindex) {
                continue;
            }
            let ll = k.addrs.iter().find_map(|a| match a.addr {
                IpAddr::V6(v6) if a.index == ifindex && v6.segments()[0] & 0xffc0 == 0xfe80 => {
                    Some(v6)
                }
                _ => None,
            });
            let Some(ll) = ll else {
                debug!(interface = %name, "no link-local address yet");
                continue;
            };
            drop(k);
            info!(interface = %name, %ll, "unnumbered link: advertising and listening");
            let ctl = self.ctl.clone();
            let ifname = name.clone();
            let ra = self.handle.spawn(async move {
                if let Err(e) = advertise(ifname.clone(), ifindex, ctl).await {
                    warn!(interface = %ifname, %e, "router advertisements stopped");
                }
            });
            let local = SocketAddrV6::new(ll, self.cfg.router.port, 0, ifindex);
            let ctl = self.ctl.clone();
            let ifname = name.clone();
            let lis = self.handle.spawn(async move {
                if let Err(e) = listen(local, ctl).await {
                    warn!(interface = %ifname, %local, %e, "cannot listen on the link-local address");
                }
            });
            self.links.insert(
                name,
                Link {
                    ifindex,
                    peer: None,
                    tasks: vec![ra, lis],
                },
            );
        }
    }

    /// The interface index of an unnumbered neighbor's link.
    pub(super) fn link_index(&self, ifname: &str) -> Option<u32> {
        self.links.get(ifname).map(|l| l.ifindex)
    }

    /// A router advertisement from `addr` on `ifname`: the neighbor's address is now
    /// known (or changed): its session starts over towards it.
    pub(super) fn link_peer(&mut self, ifname: &str, addr: Ipv6Addr) {
        let Some(link) = self.links.get_mut(ifname) else {
            return;
        };
        if link.peer == Some(addr) {
            return;
        }
        link.peer = Some(addr);
        let Some(n) = self
            .cfg
            .neighbors()
            .into_iter()
            .find(|n| n.interface.as_deref() == Some(ifname))
        else {
            return;
        };
        info!(interface = %ifname, peer = %addr, "unnumbered neighbor discovered");
        let mut n = n;
        n.address = IpAddr::V6(addr);
        if let Some(id) = self.peer_id(&n) {
            let established = self.speaker.peer(id).is_some_and(|p| p.session.is_some());
            if established && self.speaker.peer(id).map(|p| p.spec.address) == Some(n.address) {
                return;
            }
            let cease = Notification::new(codes::CEASE, cease::OTHER_CONFIG_CHANGE, vec![]);
            self.remove_neighbor(id, cease);
        }
        self.add_neighbor(n);
    }

    /// A connection from a link-local address on an unnumbered link whose neighbor is not
    /// known yet: it is the neighbor. Returns the stream back if it is not such a case.
    pub(super) fn accept_unnumbered(
        &mut self,
        stream: tokio::net::TcpStream,
        remote: SocketAddr,
    ) -> Option<tokio::net::TcpStream> {
        let SocketAddr::V6(r) = remote else {
            return Some(stream);
        };
        let Some(name) = self
            .links
            .iter()
            .find(|(_, l)| l.ifindex == r.scope_id())
            .map(|(n, _)| n.clone())
        else {
            return Some(stream);
        };
        self.link_peer(&name, *r.ip());
        let id = self.speaker.peer_by_address(IpAddr::V6(*r.ip()))?;
        if let Some(p) = self.peers.get(&id) {
            let _ = p.tx.try_send(ToSession::Incoming(stream));
        }
        None
    }
}

/// The links of unnumbered neighbors, by interface name.
pub(super) type Links = HashMap<String, Link>;
