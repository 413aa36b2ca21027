// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

//! Full-table stream: 1,000,000 IPv4 prefixes in 100,000 UPDATEs, each with its own
//! attribute set (ORIGIN, a 4–7 hop AS_PATH, NEXT_HOP, MED, one community).
//!
//! `decode+iterate`: frame, decode (with full RFC 7606 validation) and walk every prefix
//! and the AS path of every UPDATE. `encode`: encode each attribute set once and pack its
//! prefixes. Both report throughput in prefixes; ns/prefix = 1e9 / (prefixes per second).

use std::hint::black_box;
use std::net::Ipv4Addr;

use bgp_wire::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const UPDATES: usize = 100_000;
const PER_UPDATE: usize = 10;
const PREFIXES: usize = UPDATES * PER_UPDATE;

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
fn table() -> Vec<(Vec<PathAttribute>, Vec<Nlri>)> {
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

fn encode_stream(
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

fn decode_stream(stream: &[u8], ctx: &SessionContext) -> (usize, u64) {
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
fn decode_only(stream: &[u8], ctx: &SessionContext) -> usize {
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

fn bench(c: &mut Criterion) {
    let ctx = SessionContext::ebgp();
    let table = table();
    let mut stream = Vec::with_capacity(40 << 20);
    encode_stream(&table, &ctx, &mut stream);
    assert_eq!(decode_stream(&stream, &ctx).0, PREFIXES);
    eprintln!(
        "full table: {PREFIXES} prefixes, {UPDATES} UPDATEs, {} octets",
        stream.len()
    );

    let mut g = c.benchmark_group("full_table");
    g.throughput(Throughput::Elements(PREFIXES as u64));
    g.sample_size(20);
    g.bench_function("decode", |b| {
        b.iter(|| black_box(decode_only(black_box(&stream), &ctx)))
    });
    g.bench_function("decode+iterate", |b| {
        b.iter(|| black_box(decode_stream(black_box(&stream), &ctx)))
    });
    let mut out = Vec::with_capacity(stream.len());
    g.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            encode_stream(black_box(&table), &ctx, &mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
