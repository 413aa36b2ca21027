//! A small synchronous rtnetlink client with the requests the datapath needs: veth pairs
//! created straight into the pod's namespace, links, addresses, routes and neighbours.
//!
//! A socket talks to the namespace it was opened in; open it on a thread that entered
//! the pod's namespace to work there (see [`crate::netns::run_in`]).

use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

use ipnet::IpNet;
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REPLACE, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::error::CniError;

/// `ENODEV`, as netlink reports a missing interface.
pub(crate) const ENODEV: i32 = 19;
/// `EEXIST`.
pub(crate) const EEXIST: i32 = 17;

/// A netlink route socket in one namespace.
pub(crate) struct Netlink {
    sock: Socket,
    seq: u32,
    /// The namespace, for messages (`host` or the pod's namespace path).
    ns: String,
}

/// An interface as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    /// ifindex.
    pub index: u32,
    /// Hardware address.
    pub mac: Vec<u8>,
    /// MTU.
    pub mtu: u32,
    /// Administratively up.
    pub up: bool,
}

/// A route as dumped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteEntry {
    /// Destination.
    pub dst: IpNet,
    /// Gateway.
    pub gw: Option<IpAddr>,
    /// Outgoing interface.
    pub oif: Option<u32>,
    /// Scope.
    pub scope: RouteScope,
}

/// A neighbour entry as dumped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Neighbour {
    /// Interface.
    pub index: u32,
    /// Address.
    pub ip: IpAddr,
    /// Hardware address.
    pub mac: Vec<u8>,
    /// Permanent (static) entry.
    pub permanent: bool,
}

impl Netlink {
    /// Opens a socket in the calling thread's namespace; `ns` names it in errors.
    pub(crate) fn open(ns: &str) -> Result<Netlink, CniError> {
        let err = |op: &str, e: std::io::Error| CniError::Netlink {
            op: op.to_string(),
            ns: ns.to_string(),
            errno: e.raw_os_error(),
            msg: e.to_string(),
        };
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(|e| err("open socket", e))?;
        sock.bind_auto().map_err(|e| err("bind socket", e))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(|e| err("connect socket", e))?;
        Ok(Netlink {
            sock,
            seq: 0,
            ns: ns.to_string(),
        })
    }

    fn err(&self, op: &str, errno: Option<i32>, msg: String) -> CniError {
        CniError::Netlink {
            op: op.to_string(),
            ns: self.ns.clone(),
            errno,
            msg,
        }
    }

    /// Sends `msg` and collects the replies until the acknowledgement (or the end of a
    /// dump).
    fn request(
        &mut self,
        op: &str,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, CniError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut header = NetlinkHeader::default();
        header.flags = flags | NLM_F_REQUEST | NLM_F_ACK;
        header.sequence_number = seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.sock
            .send(&buf, 0)
            .map_err(|e| self.err(op, e.raw_os_error(), e.to_string()))?;
        let mut out = Vec::new();
        loop {
            let (data, _) = self
                .sock
                .recv_from_full()
                .map_err(|e| self.err(op, e.raw_os_error(), e.to_string()))?;
            let mut off = 0;
            while off < data.len() {
                let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[off..])
                    .map_err(|e| self.err(op, None, format!("undecodable reply: {e}")))?;
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
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(out),
                            Some(code) => {
                                let errno = -code.get();
                                Err(self.err(
                                    op,
                                    Some(errno),
                                    std::io::Error::from_raw_os_error(errno).to_string(),
                                ))
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// The interface `name`, if it exists.
    pub(crate) fn link(&mut self, name: &str) -> Result<Option<Link>, CniError> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        let replies = match self.request(
            &format!("get link {name}"),
            RouteNetlinkMessage::GetLink(m),
            0,
        ) {
            Ok(r) => r,
            Err(e) if e.errno() == Some(ENODEV) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(replies.into_iter().find_map(|r| match r {
            RouteNetlinkMessage::NewLink(l) => {
                let mut link = Link {
                    index: l.header.index,
                    mac: Vec::new(),
                    mtu: 0,
                    up: l.header.flags.contains(LinkFlags::Up),
                };
                for a in l.attributes {
                    match a {
                        LinkAttribute::Address(mac) => link.mac = mac,
                        LinkAttribute::Mtu(mtu) => link.mtu = mtu,
                        _ => {}
                    }
                }
                Some(link)
            }
            _ => None,
        }))
    }

    /// Creates a veth pair: `host` in this socket's namespace with hardware address
    /// `host_mac`, and its peer `peer` created directly in the namespace `peer_ns`. Both
    /// ends get `mtu` and are left down.
    pub(crate) fn add_veth(
        &mut self,
        host: &str,
        host_mac: [u8; 6],
        peer: &str,
        peer_ns: BorrowedFd<'_>,
        mtu: u32,
    ) -> Result<(), CniError> {
        let mut p = LinkMessage::default();
        p.attributes.push(LinkAttribute::IfName(peer.to_string()));
        p.attributes
            .push(LinkAttribute::NetNsFd(peer_ns.as_raw_fd()));
        p.attributes.push(LinkAttribute::Mtu(mtu));
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(host.to_string()));
        m.attributes.push(LinkAttribute::Mtu(mtu));
        m.attributes.push(LinkAttribute::Address(host_mac.to_vec()));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
        ]));
        self.request(
            &format!("create veth {host} with peer {peer}"),
            RouteNetlinkMessage::NewLink(m),
            NLM_F_CREATE | NLM_F_EXCL,
        )?;
        Ok(())
    }

    /// Deletes interface `name`; false when there was none.
    pub(crate) fn delete_link(&mut self, name: &str) -> Result<bool, CniError> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self.request(
            &format!("delete link {name}"),
            RouteNetlinkMessage::DelLink(m),
            0,
        ) {
            Ok(_) => Ok(true),
            Err(e) if e.errno() == Some(ENODEV) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Sets interface `index` administratively up.
    pub(crate) fn set_up(&mut self, index: u32, name: &str) -> Result<(), CniError> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        self.request(
            &format!("set {name} up"),
            RouteNetlinkMessage::SetLink(m),
            0,
        )?;
        Ok(())
    }

    /// Adds `addr` to interface `index` (IPv6 without duplicate address detection).
    pub(crate) fn add_address(&mut self, index: u32, addr: IpNet) -> Result<(), CniError> {
        let mut m = AddressMessage::default();
        m.header.index = index;
        m.header.prefix_len = addr.prefix_len();
        m.header.family = family(addr.addr());
        m.attributes.push(AddressAttribute::Local(addr.addr()));
        m.attributes.push(AddressAttribute::Address(addr.addr()));
        if addr.addr().is_ipv6() {
            m.attributes
                .push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        self.request(
            &format!("add address {addr} to interface {index}"),
            RouteNetlinkMessage::NewAddress(m),
            NLM_F_CREATE | NLM_F_REPLACE,
        )?;
        Ok(())
    }

    /// The addresses of interface `index`.
    pub(crate) fn addresses(&mut self, index: u32) -> Result<Vec<IpNet>, CniError> {
        let replies = self.request(
            "dump addresses",
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewAddress(a) if a.header.index == index => {
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
                    IpNet::new(ip, a.header.prefix_len).ok()
                }
                _ => None,
            })
            .collect())
    }

    /// Adds (or replaces) a route in the main table to `dst` out of interface `oif`, via
    /// `gw` when given, with `scope`.
    pub(crate) fn add_route(
        &mut self,
        dst: IpNet,
        gw: Option<IpAddr>,
        oif: u32,
        scope: RouteScope,
    ) -> Result<(), CniError> {
        let mut m = RouteMessage::default();
        m.header.address_family = family(dst.addr());
        m.header.destination_prefix_length = dst.prefix_len();
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::Boot;
        m.header.scope = scope;
        m.header.kind = RouteType::Unicast;
        if dst.prefix_len() > 0 {
            m.attributes
                .push(RouteAttribute::Destination(RouteAddress::from(dst.addr())));
        }
        if let Some(g) = gw {
            m.attributes
                .push(RouteAttribute::Gateway(RouteAddress::from(g)));
        }
        m.attributes.push(RouteAttribute::Oif(oif));
        let via = gw.map(|g| format!(" via {g}")).unwrap_or_default();
        self.request(
            &format!("add route {dst}{via} dev {oif}"),
            RouteNetlinkMessage::NewRoute(m),
            NLM_F_CREATE | NLM_F_REPLACE,
        )?;
        Ok(())
    }

    /// The routes of the main table of the family of `v6`.
    pub(crate) fn routes(&mut self, v6: bool) -> Result<Vec<RouteEntry>, CniError> {
        let mut m = RouteMessage::default();
        m.header.address_family = if v6 {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        let replies = self.request("dump routes", RouteNetlinkMessage::GetRoute(m), NLM_F_DUMP)?;
        let mut out = Vec::new();
        for r in replies {
            let RouteNetlinkMessage::NewRoute(rt) = r else {
                continue;
            };
            let mut table = u32::from(rt.header.table);
            let mut dst = None;
            let mut gw = None;
            let mut oif = None;
            for a in &rt.attributes {
                match a {
                    RouteAttribute::Table(t) => table = *t,
                    RouteAttribute::Destination(d) => dst = route_ip(d),
                    RouteAttribute::Gateway(g) => gw = route_ip(g),
                    RouteAttribute::Oif(i) => oif = Some(*i),
                    _ => {}
                }
            }
            if table != u32::from(RouteHeader::RT_TABLE_MAIN)
                || rt.header.kind != RouteType::Unicast
            {
                continue;
            }
            let dst = dst.unwrap_or(if v6 {
                IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
            });
            if let Ok(dst) = IpNet::new(dst, rt.header.destination_prefix_length) {
                out.push(RouteEntry {
                    dst,
                    gw,
                    oif,
                    scope: rt.header.scope,
                });
            }
        }
        Ok(out)
    }

    /// Adds (or replaces) a permanent neighbour entry `ip` → `mac` on interface `index`.
    pub(crate) fn add_neighbour(
        &mut self,
        index: u32,
        ip: IpAddr,
        mac: &[u8],
    ) -> Result<(), CniError> {
        let mut m = NeighbourMessage::default();
        m.header.family = family(ip);
        m.header.ifindex = index;
        m.header.state = NeighbourState::Permanent;
        m.header.kind = RouteType::Unicast;
        m.attributes.push(NeighbourAttribute::Destination(match ip {
            IpAddr::V4(a) => NeighbourAddress::Inet(a),
            IpAddr::V6(a) => NeighbourAddress::Inet6(a),
        }));
        m.attributes
            .push(NeighbourAttribute::LinkLayerAddress(mac.to_vec()));
        self.request(
            &format!(
                "add neighbour {ip} lladdr {} on interface {index}",
                mac_string(mac)
            ),
            RouteNetlinkMessage::NewNeighbour(m),
            NLM_F_CREATE | NLM_F_REPLACE,
        )?;
        Ok(())
    }

    /// The neighbour entries of interface `index`.
    pub(crate) fn neighbours(&mut self, index: u32) -> Result<Vec<Neighbour>, CniError> {
        let replies = self.request(
            "dump neighbours",
            RouteNetlinkMessage::GetNeighbour(NeighbourMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(replies
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewNeighbour(n) if n.header.ifindex == index => {
                    let mut ip = None;
                    let mut mac = Vec::new();
                    for a in n.attributes {
                        match a {
                            NeighbourAttribute::Destination(NeighbourAddress::Inet(v)) => {
                                ip = Some(IpAddr::V4(v))
                            }
                            NeighbourAttribute::Destination(NeighbourAddress::Inet6(v)) => {
                                ip = Some(IpAddr::V6(v))
                            }
                            NeighbourAttribute::LinkLayerAddress(m) => mac = m,
                            _ => {}
                        }
                    }
                    Some(Neighbour {
                        index,
                        ip: ip?,
                        mac,
                        permanent: n.header.state == NeighbourState::Permanent,
                    })
                }
                _ => None,
            })
            .collect())
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

/// `aa:bb:cc:dd:ee:ff`.
pub(crate) fn mac_string(mac: &[u8]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}
