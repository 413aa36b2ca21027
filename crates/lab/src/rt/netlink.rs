//! A small synchronous rtnetlink client: the few operations the lab needs (veths created
//! straight into their namespaces, bridges, addresses, routes, dumps, route lookups).
//!
//! A socket belongs to the network namespace it was opened in, so [`Nl::open_in`] opens one
//! from a thread that has entered the namespace; the socket then works from any thread.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use ipnet::IpNet;
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
    RouteVia,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use super::RtError;

/// A netlink route socket bound to one namespace.
pub struct Nl {
    sock: Socket,
    seq: u32,
    /// Namespace name, for messages.
    pub ns: String,
}

/// One end of a veth pair to create.
pub struct VethEnd<'a> {
    /// Interface name.
    pub name: &'a str,
    /// Namespace to create it in.
    pub ns: BorrowedFd<'a>,
    /// MAC address.
    pub mac: [u8; 6],
}

/// An interface as dumped.
#[derive(Clone, Debug)]
pub struct Link {
    /// ifindex.
    pub index: u32,
    /// Name.
    pub name: String,
    /// Administratively up.
    pub up: bool,
    /// Carrier (operationally running).
    pub running: bool,
    /// Index of the bridge it is a port of.
    pub master: Option<u32>,
}

/// An address as dumped.
#[derive(Clone, Debug)]
pub struct Addr {
    /// ifindex.
    pub index: u32,
    /// Address and prefix.
    pub net: IpNet,
    /// Link-local or host scope.
    pub local_scope: bool,
}

/// The answer of a route lookup (`ip route get`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteGet {
    /// Forwarded out `oif`, to `gw` (or directly when `None`).
    Unicast {
        /// Next hop.
        gw: Option<IpAddr>,
        /// Outgoing interface index.
        oif: u32,
        /// Source address the kernel would use.
        src: Option<IpAddr>,
    },
    /// Delivered locally.
    Local,
    /// A blackhole, unreachable or prohibit route.
    Reject(&'static str),
    /// No route at all.
    NoRoute,
}

impl Nl {
    /// Opens a socket in the calling thread's namespace.
    pub fn open(ns: &str) -> Result<Nl, RtError> {
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(|e| io(ns, "socket", e))?;
        sock.bind_auto().map_err(|e| io(ns, "bind", e))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(|e| io(ns, "connect", e))?;
        let _ = sock.set_ext_ack(true);
        Ok(Nl {
            sock,
            seq: 1,
            ns: ns.to_string(),
        })
    }

    /// Opens a socket in the namespace behind `fd`.
    pub fn open_in(fd: BorrowedFd<'_>, ns: &str) -> Result<Nl, RtError> {
        super::netns::in_netns(fd, || Nl::open(ns))?
    }

    fn send(&mut self, msg: RouteNetlinkMessage, flags: u16) -> Result<u32, RtError> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.sock
            .send(&buf, 0)
            .map_err(|e| io(&self.ns, "send", e))?;
        Ok(self.seq)
    }

    /// Sends a request and collects replies until the ACK (or DONE for dumps).
    fn request(
        &mut self,
        op: &str,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, RtError> {
        let seq = self.send(msg, flags | NLM_F_REQUEST | NLM_F_ACK)?;
        let mut out = Vec::new();
        loop {
            let (buf, _) = self
                .sock
                .recv_from_full()
                .map_err(|e| io(&self.ns, "recv", e))?;
            let mut off = 0;
            while off < buf.len() {
                let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[off..]).map_err(
                    |e| RtError::Netlink {
                        op: op.to_string(),
                        ns: self.ns.clone(),
                        msg: format!("bad reply: {e}"),
                    },
                )?;
                let len = m.header.length as usize;
                if len == 0 {
                    break;
                }
                off += (len + 3) & !3;
                if m.header.sequence_number != seq {
                    continue;
                }
                match m.payload {
                    NetlinkPayload::InnerMessage(inner) => out.push(inner),
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => match e.code {
                        None => return Ok(out),
                        Some(code) => {
                            return Err(RtError::Netlink {
                                op: op.to_string(),
                                ns: self.ns.clone(),
                                msg: std::io::Error::from_raw_os_error(-code.get()).to_string(),
                            })
                        }
                    },
                    _ => {}
                }
            }
        }
    }

    /// ifindex of an interface, if it exists.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>, RtError> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(
            &format!("get link {name}"),
            RouteNetlinkMessage::GetLink(m),
            0,
        ) {
            Ok(replies) => Ok(replies.into_iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })),
            Err(RtError::Netlink { msg, .. }) if msg.contains("No such device") => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn require_index(&mut self, name: &str) -> Result<u32, RtError> {
        self.link_index(name)?.ok_or_else(|| RtError::Netlink {
            op: format!("find {name}"),
            ns: self.ns.clone(),
            msg: "no such interface".into(),
        })
    }

    /// Creates a bridge (up) with the given MTU.
    pub fn add_bridge(&mut self, name: &str, mtu: u32) -> Result<u32, RtError> {
        let mut m = LinkMessage::default();
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes.push(LinkAttribute::Mtu(mtu));
        m.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.request(
            &format!("add bridge {name}"),
            RouteNetlinkMessage::NewLink(m),
            NLM_F_CREATE | NLM_F_EXCL,
        )?;
        self.require_index(name)
    }

    /// Creates a veth pair with each end directly in its namespace, named, with MAC and
    /// MTU, end `a` up (bring `b` up with [`Nl::set_up`] in its namespace); `a_master` makes
    /// end `a` a port of that bridge (an ifindex in `a`'s
    /// namespace). The request is sent on this socket's namespace but creates nothing in it.
    pub fn add_veth(
        &mut self,
        a: &VethEnd<'_>,
        b: &VethEnd<'_>,
        mtu: u32,
        a_master: Option<u32>,
    ) -> Result<(), RtError> {
        // The peer cannot be created up when it lands in another namespace (the kernel
        // answers ENOTCONN): the caller brings it up through the peer's own namespace.
        let mut peer = LinkMessage::default();
        peer.attributes
            .push(LinkAttribute::IfName(b.name.to_string()));
        peer.attributes
            .push(LinkAttribute::NetNsFd(b.ns.as_raw_fd()));
        peer.attributes.push(LinkAttribute::Mtu(mtu));
        peer.attributes.push(LinkAttribute::Address(b.mac.to_vec()));
        let mut m = LinkMessage::default();
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        m.attributes.push(LinkAttribute::IfName(a.name.to_string()));
        m.attributes
            .push(LinkAttribute::NetNsFd(a.ns.as_raw_fd() as RawFd));
        m.attributes.push(LinkAttribute::Mtu(mtu));
        m.attributes.push(LinkAttribute::Address(a.mac.to_vec()));
        if let Some(master) = a_master {
            m.attributes.push(LinkAttribute::Controller(master));
        }
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
        ]));
        self.request(
            &format!("add veth {} <-> {}", a.name, b.name),
            RouteNetlinkMessage::NewLink(m),
            NLM_F_CREATE | NLM_F_EXCL,
        )?;
        Ok(())
    }

    /// Sets an interface administratively up or down.
    pub fn set_up(&mut self, name: &str, up: bool) -> Result<(), RtError> {
        // By name: the kernel looks the interface up itself (one round trip).
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.header.flags = if up {
            LinkFlags::Up
        } else {
            LinkFlags::empty()
        };
        m.header.change_mask = LinkFlags::Up;
        self.request(
            &format!("set {name} {}", if up { "up" } else { "down" }),
            RouteNetlinkMessage::SetLink(m),
            0,
        )?;
        Ok(())
    }

    /// Makes an interface a port of the bridge with ifindex `master`.
    pub fn set_master(&mut self, name: &str, master: u32) -> Result<(), RtError> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        m.attributes.push(LinkAttribute::Controller(master));
        self.request(
            &format!("set {name} master {master}"),
            RouteNetlinkMessage::SetLink(m),
            0,
        )?;
        Ok(())
    }

    /// Adds an address to an interface (IPv6 without duplicate address detection).
    pub fn add_addr(&mut self, name: &str, net: IpNet) -> Result<(), RtError> {
        let index = self.require_index(name)?;
        let mut m = AddressMessage::default();
        m.header.index = index;
        m.header.prefix_len = net.prefix_len();
        m.header.family = family(net.addr());
        m.attributes.push(AddressAttribute::Local(net.addr()));
        m.attributes.push(AddressAttribute::Address(net.addr()));
        if let IpNet::V6(_) = net {
            m.attributes.push(AddressAttribute::Flags(
                netlink_packet_route::address::AddressFlags::Nodad,
            ));
        }
        if let IpNet::V4(n) = net {
            m.attributes
                .push(AddressAttribute::Broadcast(n.broadcast()));
        }
        self.request(
            &format!("add address {net} to {name}"),
            RouteNetlinkMessage::NewAddress(m),
            NLM_F_CREATE | NLM_F_EXCL,
        )?;
        Ok(())
    }

    /// Adds a default route via `gw`.
    pub fn add_default_route(&mut self, gw: IpAddr) -> Result<(), RtError> {
        let mut m = RouteMessage::default();
        m.header.address_family = family(gw);
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::Boot;
        m.header.scope = RouteScope::Universe;
        m.header.kind = RouteType::Unicast;
        m.attributes
            .push(RouteAttribute::Gateway(RouteAddress::from(gw)));
        self.request(
            &format!("add default route via {gw}"),
            RouteNetlinkMessage::NewRoute(m),
            NLM_F_CREATE | NLM_F_EXCL,
        )?;
        Ok(())
    }

    /// All interfaces.
    pub fn links(&mut self) -> Result<Vec<Link>, RtError> {
        let replies = self.request(
            "dump links",
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => {
                    let mut name = String::new();
                    let mut master = None;
                    for a in &l.attributes {
                        match a {
                            LinkAttribute::IfName(n) => name.clone_from(n),
                            LinkAttribute::Controller(m) => master = Some(*m),
                            _ => {}
                        }
                    }
                    Some(Link {
                        index: l.header.index,
                        name,
                        up: l.header.flags.contains(LinkFlags::Up),
                        running: l.header.flags.contains(LinkFlags::Running),
                        master,
                    })
                }
                _ => None,
            })
            .collect())
    }

    /// All addresses (both families).
    pub fn addrs(&mut self) -> Result<Vec<Addr>, RtError> {
        let replies = self.request(
            "dump addresses",
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewAddress(a) => {
                    let ip = a.attributes.iter().find_map(|x| match x {
                        AddressAttribute::Local(ip) => Some(*ip),
                        _ => None,
                    });
                    let ip = ip.or_else(|| {
                        a.attributes.iter().find_map(|x| match x {
                            AddressAttribute::Address(ip) => Some(*ip),
                            _ => None,
                        })
                    })?;
                    Some(Addr {
                        index: a.header.index,
                        net: IpNet::new(ip, a.header.prefix_len).ok()?,
                        local_scope: matches!(
                            a.header.scope,
                            AddressScope::Link | AddressScope::Host
                        ),
                    })
                }
                _ => None,
            })
            .collect())
    }

    /// Looks up the route the kernel would use for `dst` (like `ip route get`).
    pub fn route_get(&mut self, dst: IpAddr) -> Result<RouteGet, RtError> {
        let mut m = RouteMessage::default();
        m.header.address_family = family(dst);
        m.header.destination_prefix_length = if dst.is_ipv4() { 32 } else { 128 };
        m.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(dst)));
        // The kernel answers a lookup that hits a reject route with an error.
        let op = format!("route get {dst}");
        let replies = match self.request(&op, RouteNetlinkMessage::GetRoute(m), 0) {
            Ok(r) => r,
            Err(RtError::Netlink { msg, .. }) => {
                return match msg.as_str() {
                    m if m.contains("Network is unreachable") => Ok(RouteGet::NoRoute),
                    m if m.contains("Invalid argument") => Ok(RouteGet::Reject("blackhole")),
                    m if m.contains("No route to host") => Ok(RouteGet::Reject("unreachable")),
                    m if m.contains("Permission denied") => Ok(RouteGet::Reject("prohibit")),
                    _ => Err(RtError::Netlink {
                        op,
                        ns: self.ns.clone(),
                        msg,
                    }),
                };
            }
            Err(e) => return Err(e),
        };
        for r in replies {
            if let RouteNetlinkMessage::NewRoute(rt) = r {
                match rt.header.kind {
                    RouteType::Local | RouteType::Broadcast => return Ok(RouteGet::Local),
                    RouteType::BlackHole => return Ok(RouteGet::Reject("blackhole")),
                    RouteType::Unreachable => return Ok(RouteGet::Reject("unreachable")),
                    RouteType::Prohibit => return Ok(RouteGet::Reject("prohibit")),
                    _ => {}
                }
                let mut gw = None;
                let mut oif = 0;
                let mut src = None;
                for a in &rt.attributes {
                    match a {
                        RouteAttribute::Gateway(g) => gw = route_ip(g),
                        RouteAttribute::Via(RouteVia::Inet(v)) => gw = Some(IpAddr::V4(*v)),
                        RouteAttribute::Via(RouteVia::Inet6(v)) => gw = Some(IpAddr::V6(*v)),
                        RouteAttribute::Oif(i) => oif = *i,
                        RouteAttribute::PrefSource(s) => src = route_ip(s),
                        _ => {}
                    }
                }
                return Ok(RouteGet::Unicast { gw, oif, src });
            }
        }
        Ok(RouteGet::NoRoute)
    }
}

fn route_ip(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v) => Some(IpAddr::V4(*v)),
        RouteAddress::Inet6(v) => Some(IpAddr::V6(*v)),
        _ => None,
    }
}

fn family(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

fn io(ns: &str, what: &str, e: std::io::Error) -> RtError {
    RtError::Netlink {
        op: what.to_string(),
        ns: ns.to_string(),
        msg: e.to_string(),
    }
}
