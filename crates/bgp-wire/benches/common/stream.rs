//! The full-table stream of the codec benchmarks, shared by `benches/full_table.rs`
//! (criterion) and `examples/full_table_best.rs` (best of N runs, robust to a noisy host):
//! 1,000,000 IPv4 prefixes in 100,000 UPDATEs, each with its own attribute set (ORIGIN, a
//! 4–7 hop AS_PATH, NEXT_HOP, MED, one community).

use std::net::Ipv4Addr;

use bgp_wire::*;

pub(crate) const UPDATES: usize = 100_000;
pub(crate) const PER_UPDATE: usize = 10;
pub(crate) const PREFIXES: usize = UPDATES * PER_UPDATE;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The table: per UPDATE, its attributes and its prefixes.
pub(crate) fn table() -> Vec<(Vec<PathAttribute>, Vec<Nlri>)> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut n = 0u32;
    (0..UPDATES)
        .map(|i| {
            let hops = 4 + (rng.next() % 4) as usize;
            let path: Vec<u32> = (0..hops)
                .map(|_| 1 + (rng.next() % 400_000) as u32)
                .collect();
            let attrs = vec![
                PathAttribute::new(AttributeValue::Origin(Origin::Igp)),
                PathAttribute::new(AttributeValue::AsPath(AsPath::sequence(path))),
                PathAttribute::new(AttributeValue::NextHop(Ipv4Addr::new(10, 0, 0, 1))),
                PathAttribute::new(AttributeValue::MultiExitDisc(i as u32)),
                PathAttribute::new(AttributeValue::Communities(vec![Community::new(
                    65000,
                    (i % 65536) as u16,
                )])),
            ];
            let prefixes = (0..PER_UPDATE)
                .map(|_| {
                    let len = match rng.next() % 10 {
                        0..=5 => 24,
                        6 => 23,
                        7 => 22,
                        8 => 20,
                        _ => 16,
                    };
                    let addr = (16u32 << 24) + (n << 8);
                    n += 1;
                    Nlri::new(Ipv4Prefix::new(Ipv4Addr::from(addr), len).unwrap())
                })
                .collect();
            (attrs, prefixes)
        })
        .collect()
}

pub(crate) fn encode_stream(
    table: &[(Vec<PathAttribute>, Vec<Nlri>)],
    ctx: &SessionContext,
    out: &mut Vec<u8>,
) {
    let packer = UpdatePacker::new(*ctx);
    let mut attrs = Vec::with_capacity(128);
    for (a, p) in table {
        attrs.clear();
        bgp_wire::update::owned::encode_attributes(a, ctx, &mut attrs);
        packer
            .announce_ipv4(&attrs, p.iter().copied(), out)
            .unwrap();
    }
}

pub(crate) fn decode_stream(stream: &[u8], ctx: &SessionContext) -> (usize, u64) {
    let mut rest = stream;
    let mut prefixes = 0usize;
    let mut acc = 0u64;
    while !rest.is_empty() {
        let Ok(Frame::Ready(len, MessageType::Update)) = frame(rest, ctx) else {
            panic!("bad stream")
        };
        let u = Update::decode(&rest[..len], ctx).unwrap();
        acc += u.as_path().map_or(0, |p| p.path_len() as u64);
        acc += u64::from(u.med().unwrap_or(0));
        for (_, n) in u.announced() {
            prefixes += 1;
            if let Prefix::V4(p) = n.prefix {
                acc = acc.wrapping_add(u64::from(p.addr_bits()) + u64::from(p.prefix_len()));
            }
        }
        rest = &rest[len..];
    }
    (prefixes, acc)
}

/// Frames and decodes every UPDATE (full validation) without touching its prefixes.
pub(crate) fn decode_only(stream: &[u8], ctx: &SessionContext) -> usize {
    let mut rest = stream;
    let mut n = 0;
    while !rest.is_empty() {
        let Ok(Frame::Ready(len, _)) = frame(rest, ctx) else {
            panic!("bad stream")
        };
        let u = Update::decode(&rest[..len], ctx).unwrap();
        n += usize::from(u.disposition() == Disposition::Normal);
        rest = &rest[len..];
    }
    n
}
