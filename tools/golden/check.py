#!/usr/bin/env python3
"""Check golden vector files (crates/bgp-wire/tests/golden/*.txt).

For every file: the header lines are there, every other line is `a HEX` or
`b HEX` in lowercase, each message has the 16-byte all-ones marker, a length
field equal to its real length, and a known type.

With --tshark (and tshark installed) the messages are also written into a
synthetic pcap (one TCP stream per direction, one message per segment) and
dissected by Wireshark's BGP dissector; any malformed-packet or error-level
expert item fails the check.  Wireshark is an independent decoder, so this
catches capture or extraction mistakes that a round trip through our own
codec would not.

Standard library only.  Usage: check.py [--tshark] FILE...
"""

import argparse
import shutil
import struct
import subprocess
import sys
import tempfile

HEADER = ("# session: ", "# a: ", "# b: ")


def check_file(path):
    problems = []
    msgs = []
    with open(path) as f:
        lines = f.read().splitlines()
    heads = [ln for ln in lines if ln.startswith("#")]
    for want in HEADER:
        if not any(h.startswith(want) for h in heads):
            problems.append(f"header line '{want.strip()}' missing")
    if not any(h.startswith("# captured: ") for h in heads):
        problems.append("header line '# captured:' missing")
    for n, ln in enumerate(lines, 1):
        if not ln or ln.startswith("#"):
            continue
        if len(ln) < 3 or ln[0] not in "ab" or ln[1] != " ":
            problems.append(f"line {n}: not 'a HEX' or 'b HEX'")
            continue
        hx = ln[2:]
        if hx != hx.lower() or any(c not in "0123456789abcdef" for c in hx) or len(hx) % 2:
            problems.append(f"line {n}: not lowercase hex of whole bytes")
            continue
        m = bytes.fromhex(hx)
        if len(m) < 19 or m[:16] != b"\xff" * 16:
            problems.append(f"line {n}: no BGP marker")
            continue
        length = struct.unpack("!H", m[16:18])[0]
        if length != len(m):
            problems.append(f"line {n}: length field {length} but {len(m)} bytes")
        if m[18] not in (1, 2, 3, 4, 5):
            problems.append(f"line {n}: unknown message type {m[18]}")
        msgs.append((ln[0], m, n))
    if not msgs:
        problems.append("no messages")
    return msgs, problems


def write_pcap(path, msgs):
    """One fake TCP connection, a=10.255.0.1 b=10.255.0.2, one message per segment."""

    def csum(data):
        if len(data) % 2:
            data += b"\0"
        s = sum(struct.unpack(f"!{len(data) // 2}H", data))
        while s >> 16:
            s = (s & 0xFFFF) + (s >> 16)
        return ~s & 0xFFFF

    ips = {"a": bytes([10, 255, 0, 1]), "b": bytes([10, 255, 0, 2])}
    ports = {"a": 40000, "b": 179}
    seq = {"a": 1000, "b": 5000}
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 101)]  # raw IP
    t = 0
    for side, m, _n in msgs:
        other = "b" if side == "a" else "a"
        tcp = struct.pack("!HHIIBBHHH", ports[side], ports[other], seq[side], seq[other], 5 << 4, 0x18,
                          65535, 0, 0) + m
        seq[side] = (seq[side] + len(m)) & 0xFFFFFFFF
        total = 20 + len(tcp)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, ips[side], ips[other])
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        pseudo = ips[side] + ips[other] + struct.pack("!BBH", 0, 6, len(tcp))
        tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
        pkt = ip + tcp
        t += 1
        out.append(struct.pack("<IIII", t, 0, len(pkt), len(pkt)) + pkt)
    with open(path, "wb") as f:
        f.write(b"".join(out))


def tshark_problems(msgs):
    tshark = shutil.which("tshark")
    if tshark is None:
        return None
    with tempfile.NamedTemporaryFile(suffix=".pcap") as tmp:
        write_pcap(tmp.name, msgs)
        # message i is in frame i+1
        res = subprocess.run(
            [tshark, "-r", tmp.name, "-n", "-o", "tcp.desegment_tcp_streams:FALSE", "-T", "fields",
             "-e", "frame.number", "-e", "bgp.type", "-e", "_ws.expert.severity", "-e", "_ws.expert.message",
             "-e", "_ws.malformed"],
            capture_output=True, text=True, check=True)
    problems = []
    for line in res.stdout.splitlines():
        f = line.split("\t")
        frame = int(f[0])
        side, m, n = msgs[frame - 1]
        types = [int(x) for x in f[1].split(",") if x]
        if types != [m[18]]:
            problems.append(f"line {n}: tshark sees message types {types}, expected [{m[18]}]")
        sev = f[2] if len(f) > 2 else ""
        text = f[3] if len(f) > 3 else ""
        malformed = f[4] if len(f) > 4 else ""
        # Wireshark's severity values: 0x00800000 warning, 0x00c00000 error
        sevs = [int(x, 0) for x in sev.split(",") if x]
        if malformed or any(s >= 0x00C00000 for s in sevs):
            problems.append(f"line {n} ({side}): tshark reports: {text or 'malformed packet'}")
    return problems


def print_summary(msgs):
    import collections
    import os
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import pcap2vec

    feats = collections.Counter()
    for side, m, _n in msgs:
        pcap2vec.features(side, m, feats)
    for side in "ab":
        counts = ", ".join(f"{t} {feats[f'{side}:{t}']}" for t in pcap2vec.MSG_TYPES.values() if feats[f"{side}:{t}"])
        print(f"  {side}: {counts}")
        for k in sorted(feats):
            if k.startswith(side + ":") and k[2:] not in pcap2vec.MSG_TYPES.values():
                print(f"    {k[2:]} x{feats[k]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tshark", action="store_true", help="also dissect every message with tshark")
    ap.add_argument("--summary", action="store_true",
                    help="print message counts and the features (capabilities, attributes, ...) per sender")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    bad = 0
    for path in args.files:
        msgs, problems = check_file(path)
        if args.tshark and msgs:
            tp = tshark_problems(msgs)
            if tp is None:
                print(f"{path}: tshark not installed, dissection skipped", file=sys.stderr)
            else:
                problems += tp
        if problems:
            bad += 1
            for p in problems:
                print(f"{path}: {p}")
        else:
            print(f"{path}: ok, {len(msgs)} messages")
        if args.summary:
            print_summary(msgs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
