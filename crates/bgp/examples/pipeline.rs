//! The speaker's receive → decide → export → encode pipeline on a full table, in process
//! (no sockets): an eBGP peer sends 1,000,000 IPv4 prefixes in 100,000 attribute sets and
//! a second eBGP peer is fed everything. Prints the time per stage and the peak RSS.
//!
//! `cargo run --release -p bgp --example pipeline [-- PREFIXES SETS]`

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use bgp::negotiate::{negotiate, RemoteAs, SessionParams};
use bgp::speaker::{Fill, LocalAddrs, PeerSpec, Speaker, SpeakerConfig};
use bgp_wire::{
    AsPath, AttributeValue, Capability, Community, Family, Ipv4Prefix, Nlri, Open, Origin,
    PathAttribute, SessionContext, UpdatePacker,
};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let prefixes = args.first().copied().unwrap_or(1_000_000);
    let sets = args.get(1).copied().unwrap_or(100_000);
    let per = prefixes / sets;
    let chunk = args.get(2).copied().unwrap_or(64 * 1024);

    // The stream the injector sends.
    let ctx = SessionContext::ebgp();
    let packer = UpdatePacker::new(ctx);
    let mut stream = Vec::new();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut n = 0u32;
    let mut attrs = Vec::new();
    for i in 0..sets {
        let hops = 4 + (next() % 4) as usize;
        let mut path = vec![65001];
        // Never the speaker's or the monitor's AS: loop detection would drop the route.
        path.extend((1..hops).map(|_| 70_000 + (next() % 400_000) as u32));
        attrs.clear();
        bgp_wire::update::owned::encode_attributes(
            &[
                PathAttribute::new(AttributeValue::Origin(Origin::Igp)),
                PathAttribute::new(AttributeValue::AsPath(AsPath::sequence(path))),
                PathAttribute::new(AttributeValue::NextHop(Ipv4Addr::new(10, 99, 1, 2))),
                PathAttribute::new(AttributeValue::MultiExitDisc(i as u32)),
                PathAttribute::new(AttributeValue::Communities(vec![Community::new(
                    65001,
                    (i % 65536) as u16,
                )])),
            ],
            &ctx,
            &mut attrs,
        );
        let nlri = (0..per).map(|_| {
            let a = (16u32 << 24) + (n << 8);
            n += 1;
            Nlri::new(Ipv4Prefix::new(Ipv4Addr::from(a), 24).unwrap())
        });
        packer.announce_ipv4(&attrs, nlri, &mut stream).unwrap();
    }

    let mut s = Speaker::new(SpeakerConfig::new(65000, Ipv4Addr::new(10, 99, 0, 1)));
    let inj = s.add_peer(PeerSpec::new(
        IpAddr::V4(Ipv4Addr::new(10, 99, 1, 2)),
        RemoteAs::Asn(65001),
        65000,
    ));
    let mon = s.add_peer(PeerSpec::new(
        IpAddr::V4(Ipv4Addr::new(10, 99, 2, 2)),
        RemoteAs::Asn(65002),
        65000,
    ));
    for (id, asn, last) in [(inj, 65001, 1u8), (mon, 65002, 2)] {
        let params = SessionParams::new(65000, Ipv4Addr::new(10, 99, 0, 1), RemoteAs::Asn(asn));
        let open = Open::new(
            asn,
            90,
            Ipv4Addr::new(10, 99, last, 2),
            vec![
                Capability::Multiprotocol(Family::IPV4_UNICAST),
                Capability::FourOctetAs(asn),
            ],
        );
        let neg = negotiate(&params, &open).unwrap();
        let local = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 99, last, 1)), 179);
        let remote = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 99, last, 2)), 40000);
        s.peer_up(id, neg, local, remote, LocalAddrs::default());
    }
    let mut out = Vec::new();
    while s.fill(mon, 1 << 18, &mut out) == Fill::More {}
    out.clear();

    let t0 = Instant::now();
    // Feed in chunks like the session task does (about 1 MiB of whole messages).
    let mut rest = &stream[..];
    let mut sent = 0usize;
    let mut receive_time = std::time::Duration::ZERO;
    let mut fill_time = std::time::Duration::ZERO;
    while !rest.is_empty() {
        let mut cut = 0;
        while cut < rest.len() && cut < chunk {
            let len = u16::from_be_bytes([rest[cut + 16], rest[cut + 17]]) as usize;
            cut += len;
        }
        let t = Instant::now();
        s.receive(inj, &rest[..cut]).unwrap();
        receive_time += t.elapsed();
        rest = &rest[cut..];
        let t = Instant::now();
        while s.fill(mon, 1 << 18, &mut out) == Fill::More {
            sent += out.len();
            out.clear();
        }
        sent += out.len();
        out.clear();
        fill_time += t.elapsed();
    }
    let total = t0.elapsed();
    let v = s.neighbor_view(mon).unwrap();
    assert_eq!(
        v.advertised[0] as usize, prefixes,
        "the monitor got every prefix"
    );
    let rss = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
        .unwrap_or_default();
    println!(
        "{prefixes} prefixes, {sets} sets: total {:.3} s ({:.0} ns/prefix); receive {:.3} s, export+encode {:.3} s; {} MB sent; attribute sets {}; peak RSS {} kB (includes the {} MB input stream)",
        total.as_secs_f64(),
        total.as_nanos() as f64 / prefixes as f64,
        receive_time.as_secs_f64(),
        fill_time.as_secs_f64(),
        sent / 1_000_000,
        s.rib().attrs.len(),
        rss,
        stream.len() / 1_000_000,
    );
}
