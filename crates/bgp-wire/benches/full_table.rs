// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

//! Full-table stream: 1,000,000 IPv4 prefixes in 100,000 UPDATEs, each with its own
//! attribute set (ORIGIN, a 4–7 hop AS_PATH, NEXT_HOP, MED, one community).
//!
//! `decode+iterate`: frame, decode (with full RFC 7606 validation) and walk every prefix
//! and the AS path of every UPDATE. `encode`: encode each attribute set once and pack its
//! prefixes. Both report throughput in prefixes; ns/prefix = 1e9 / (prefixes per second).

use std::hint::black_box;

use bgp_wire::SessionContext;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "common/stream.rs"]
mod stream;
use stream::*;

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
