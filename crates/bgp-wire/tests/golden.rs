//! Golden vectors: BGP sessions between real FRR, BIRD, GoBGP and OpenBGPD daemons,
//! captured by `tools/golden/capture.sh` (see docs/GOLDEN.md). Every captured message must
//! decode under the context its session negotiated, raise no RFC 7606 issue, and re-encode
//! byte for byte.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bgp_wire::{Message, Open, SessionContext};

struct Stats {
    by_type: BTreeMap<&'static str, usize>,
}

fn golden_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    files
}

/// Decodes and re-encodes every message of one capture file.
fn check_file(path: &Path) -> Stats {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let mut opens: [Option<Open>; 2] = [None, None];
    let mut stats = Stats {
        by_type: BTreeMap::new(),
    };
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = format!("{name}:{}", i + 1);
        let (side, hex) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("{at}: no side"));
        let sender = match side {
            "a" => 0,
            "b" => 1,
            _ => panic!("{at}: side {side:?} is neither a nor b"),
        };
        let bytes = hex::decode(hex.trim()).unwrap_or_else(|e| panic!("{at}: {e}"));
        // The receiver decodes with what it negotiated from the two OPENs.
        let ctx = match (&opens[sender], &opens[1 - sender]) {
            (Some(s), Some(r)) => SessionContext::negotiate(r, s, s.asn() != r.asn()).0,
            _ => SessionContext::ebgp(),
        };
        let (msg, len) =
            Message::decode(&bytes, &ctx).unwrap_or_else(|e| panic!("{at}: does not decode: {e}"));
        assert_eq!(len, bytes.len(), "{at}: trailing octets");
        let kind = match &msg {
            Message::Open(o) => {
                opens[sender] = Some(o.clone());
                "OPEN"
            }
            Message::Update(u) => {
                let issues: Vec<String> = u.issues().iter().map(|i| i.to_string()).collect();
                assert!(
                    issues.is_empty(),
                    "{at}: RFC 7606 issues in a real UPDATE: {issues:?}"
                );
                let _ = u.announced().count() + u.withdrawals().count();
                "UPDATE"
            }
            Message::Notification(_) => "NOTIFICATION",
            Message::Keepalive => "KEEPALIVE",
            Message::RouteRefresh(_) => "ROUTE-REFRESH",
        };
        *stats.by_type.entry(kind).or_default() += 1;
        let mut out = Vec::new();
        msg.to_owned()
            .encode(&ctx, &mut out)
            .unwrap_or_else(|e| panic!("{at}: {e}"));
        assert_eq!(
            hex::encode(&out),
            hex::encode(&bytes),
            "{at}: re-encoding differs"
        );
    }
    stats
}

#[test]
fn every_captured_message_decodes_and_re_encodes_byte_for_byte() {
    let files = golden_files();
    assert!(!files.is_empty(), "no golden captures found");
    let mut total = 0;
    for f in &files {
        let stats = check_file(f);
        let n: usize = stats.by_type.values().sum();
        total += n;
        eprintln!(
            "{}: {n} messages {:?}",
            f.file_name().unwrap().to_string_lossy(),
            stats.by_type
        );
        assert!(
            stats.by_type.get("OPEN").copied().unwrap_or(0) >= 2,
            "{}: no OPEN pair",
            f.display()
        );
    }
    eprintln!("{} files, {total} messages", files.len());
}

#[test]
fn the_captures_cover_all_four_daemons() {
    let mut seen = Vec::new();
    for f in golden_files() {
        let text = std::fs::read_to_string(&f).unwrap();
        for daemon in ["frr", "bird", "gobgp", "openbgpd"] {
            let header = text.lines().take_while(|l| l.starts_with('#'));
            if header.clone().any(|l| {
                (l.starts_with("# a:") || l.starts_with("# b:"))
                    && l.to_lowercase().contains(daemon)
            }) && !seen.contains(&daemon)
            {
                seen.push(daemon);
            }
        }
    }
    seen.sort();
    assert_eq!(seen, ["bird", "frr", "gobgp", "openbgpd"]);
}
