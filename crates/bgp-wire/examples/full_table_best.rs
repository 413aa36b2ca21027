//! The codec benchmarks of `benches/full_table.rs`, reported as the best, median and mean
//! of N runs of each.
//!
//! Criterion reports a mean, which a host with noisy neighbours (a virtual machine) pushes
//! up from run to run; the best run shows what the code costs. Run with
//! `cargo run --release -p bgp-wire --example full_table_best [RUNS]` (default 300).

use std::hint::black_box;
use std::time::Instant;

use bgp_wire::SessionContext;

#[path = "../benches/common/stream.rs"]
mod stream;
use stream::*;

fn main() {
    let runs: usize = match std::env::args().nth(1).map(|s| s.parse()) {
        None => 300,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: full_table_best [RUNS]  (RUNS: a positive number, default 300)");
            std::process::exit(2);
        }
    };
    let ctx = SessionContext::ebgp();
    let table = table();
    let mut stream = Vec::with_capacity(40 << 20);
    encode_stream(&table, &ctx, &mut stream);
    assert_eq!(
        decode_stream(&stream, &ctx).0,
        PREFIXES,
        "the stream decodes"
    );
    let mut out = Vec::with_capacity(stream.len());
    let mut times: [Vec<f64>; 3] = Default::default();
    for _ in 0..runs {
        let t = Instant::now();
        black_box(decode_only(black_box(&stream), &ctx));
        times[0].push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        black_box(decode_stream(black_box(&stream), &ctx));
        times[1].push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        out.clear();
        encode_stream(black_box(&table), &ctx, &mut out);
        black_box(out.len());
        times[2].push(t.elapsed().as_secs_f64());
    }
    let ns = |s: f64| s * 1e9 / PREFIXES as f64;
    println!(
        "{PREFIXES} prefixes in {UPDATES} UPDATEs ({} octets), {runs} runs, ns/prefix:",
        stream.len()
    );
    println!("  {:<16}{:>7}{:>8}{:>7}", "", "best", "median", "mean");
    for (name, t) in ["decode", "decode+iterate", "encode"]
        .iter()
        .zip(&mut times)
    {
        t.sort_by(f64::total_cmp);
        let mean = t.iter().sum::<f64>() / t.len() as f64;
        println!(
            "  {name:<16}{:>7.2}{:>8.2}{:>7.2}",
            ns(t[0]),
            ns(t[t.len() / 2]),
            ns(mean)
        );
    }
}
