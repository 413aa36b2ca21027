#!/usr/bin/env python3
"""Turn a tcpdump capture of BGP sessions into a golden vector file.

Reads a classic pcap file (as written by `tcpdump -w`), reassembles every TCP
connection on port 179 (handling retransmissions, overlapping and
out-of-order segments by sequence number), splits each direction's byte
stream into BGP messages and writes them as

    a ffffffffffffffffffffffffffffffff...
    b ffffffffffffffffffffffffffffffff...

where `a`/`b` is the sending side, identified by its IP addresses.

Standard library only.  Besides writing the vector file it prints a short
summary (message counts, capabilities, path attributes) and can check
expectations given with --expect, so that capture.sh fails loudly when a
session did not exercise what it was meant to.
"""

import argparse
import ipaddress
import shutil
import struct
import subprocess
import sys
from collections import Counter, OrderedDict

BGP_PORT = 179
MARKER = b"\xff" * 16
MSG_TYPES = {1: "OPEN", 2: "UPDATE", 3: "NOTIFICATION", 4: "KEEPALIVE", 5: "ROUTE-REFRESH"}


class CaptureError(Exception):
    pass


# --------------------------------------------------------------------------
# pcap reading


def read_pcap(path):
    """Yield (timestamp, linktype, frame bytes) for every record."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise CaptureError(f"{path}: too short for a pcap header")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    elif magic == b"\x0a\x0d\x0d\x0a":
        raise CaptureError(f"{path}: pcapng is not supported, capture with tcpdump -w (classic pcap)")
    else:
        raise CaptureError(f"{path}: not a pcap file (magic {magic.hex()})")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    _vmaj, _vmin, _tz, _sig, _snaplen, linktype = struct.unpack(endian + "HHiIII", data[4:24])
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(endian + "IIII", data[off : off + 16])
        off += 16
        frame = data[off : off + incl]
        off += incl
        if len(frame) < incl:
            raise CaptureError(f"{path}: truncated record at end of file")
        if incl < orig:
            raise CaptureError(f"{path}: record cut by snaplen ({incl} < {orig}); capture with -s 0")
        ts = sec + frac / (1e9 if nano else 1e6)
        yield ts, linktype, frame


def l3_from_frame(linktype, frame):
    """Return (ethertype, payload) of the network layer, or None."""
    if linktype == 1:  # Ethernet
        if len(frame) < 14:
            return None
        etype = struct.unpack("!H", frame[12:14])[0]
        off = 14
        while etype in (0x8100, 0x88A8) and len(frame) >= off + 4:  # VLAN tags
            etype = struct.unpack("!H", frame[off + 2 : off + 4])[0]
            off += 4
        return etype, frame[off:]
    if linktype == 113:  # Linux cooked v1
        if len(frame) < 16:
            return None
        return struct.unpack("!H", frame[14:16])[0], frame[16:]
    if linktype == 276:  # Linux cooked v2
        if len(frame) < 20:
            return None
        return struct.unpack("!H", frame[0:2])[0], frame[20:]
    if linktype in (12, 101):  # raw IP
        if not frame:
            return None
        return (0x0800 if frame[0] >> 4 == 4 else 0x86DD), frame
    raise CaptureError(f"unsupported pcap link type {linktype}")


def tcp_from_l3(etype, pkt):
    """Return (src, dst, tcp segment bytes) or None for non-TCP packets."""
    if etype == 0x0800:
        if len(pkt) < 20:
            return None
        ihl = (pkt[0] & 0x0F) * 4
        total = struct.unpack("!H", pkt[2:4])[0]
        flags_frag = struct.unpack("!H", pkt[6:8])[0]
        if pkt[9] != 6:
            return None
        if flags_frag & 0x3FFF:
            raise CaptureError("fragmented IPv4 packet in capture; not supported")
        src = ipaddress.ip_address(pkt[12:16])
        dst = ipaddress.ip_address(pkt[16:20])
        # total may be 0 with TSO on some captures; fall back to what we have
        end = total if total else len(pkt)
        return src, dst, pkt[ihl:end]
    if etype == 0x86DD:
        if len(pkt) < 40:
            return None
        plen = struct.unpack("!H", pkt[4:6])[0]
        nxt = pkt[6]
        src = ipaddress.ip_address(pkt[8:24])
        dst = ipaddress.ip_address(pkt[24:40])
        off = 40
        end = 40 + plen if plen else len(pkt)
        # skip the usual extension headers
        while nxt in (0, 43, 60):
            nxt_hdr = pkt[off]
            off += (pkt[off + 1] + 1) * 8
            nxt = nxt_hdr
        if nxt == 44:
            raise CaptureError("fragmented IPv6 packet in capture; not supported")
        if nxt != 6:
            return None
        return src, dst, pkt[off:end]
    return None


# --------------------------------------------------------------------------
# TCP reassembly


class Direction:
    """One direction of a TCP connection: reassembles the byte stream."""

    def __init__(self):
        self.base = None  # sequence number of stream byte 0
        self.buf = bytearray()
        self.pending = {}  # offset -> bytes, segments beyond a hole
        self.parsed = 0  # bytes of buf already split into messages
        self.retransmitted = 0
        self.fin = False

    def syn(self, seq):
        self.base = (seq + 1) & 0xFFFFFFFF

    def segment(self, seq, payload):
        """Add a segment; return True if the contiguous stream grew."""
        if not payload:
            return False
        if self.base is None:
            # capture started mid-connection: take the first seen byte as 0
            self.base = seq
        off = (seq - self.base) & 0xFFFFFFFF
        if off >= 0x80000000:  # before the stream start: an old retransmission
            self.retransmitted += 1
            return False
        end = off + len(payload)
        have = len(self.buf)
        if end <= have:
            if bytes(self.buf[off:end]) != bytes(payload):
                raise CaptureError("retransmitted segment differs from original data")
            self.retransmitted += 1
            return False
        if off > have:
            old = self.pending.get(off)
            if old is None or len(old) < len(payload):
                self.pending[off] = bytes(payload)
            return False
        if off < have:
            if bytes(self.buf[off:have]) != bytes(payload[: have - off]):
                raise CaptureError("overlapping segment differs from original data")
            self.retransmitted += 1
        self.buf += payload[have - off :]
        # pull in any buffered segments that now fit
        progress = True
        while progress:
            progress = False
            for poff in sorted(self.pending):
                pdata = self.pending[poff]
                have = len(self.buf)
                if poff <= have:
                    del self.pending[poff]
                    if poff + len(pdata) > have:
                        self.buf += pdata[have - poff :]
                    progress = True
                    break
        return True

    def messages(self):
        """Yield complete BGP messages not yet returned."""
        while True:
            rest = len(self.buf) - self.parsed
            if rest < 19:
                return
            head = bytes(self.buf[self.parsed : self.parsed + 19])
            if head[:16] != MARKER:
                raise CaptureError(f"stream offset {self.parsed}: BGP marker missing")
            length = struct.unpack("!H", head[16:18])[0]
            if length < 19:
                raise CaptureError(f"stream offset {self.parsed}: bad BGP length {length}")
            if rest < length:
                return
            msg = bytes(self.buf[self.parsed : self.parsed + length])
            self.parsed += length
            yield msg


class Connection:
    def __init__(self, index, client, server):
        self.index = index
        self.client = client  # (ip, port) of the side that sent the first packet / SYN
        self.server = server
        self.dirs = {client: Direction(), server: Direction()}
        self.messages = []  # (sender endpoint, bytes)


def reassemble(pcap_path):
    conns = OrderedDict()  # key: frozenset of endpoints -> Connection (current)
    order = []
    for ts, linktype, frame in read_pcap(pcap_path):
        l3 = l3_from_frame(linktype, frame)
        if l3 is None:
            continue
        t = tcp_from_l3(*l3)
        if t is None:
            continue
        src, dst, seg = t
        if len(seg) < 20:
            continue
        sport, dport, seq, _ack, offflags = struct.unpack("!HHIIH", seg[:14])
        if BGP_PORT not in (sport, dport):
            continue
        doff = (offflags >> 12) * 4
        flags = offflags & 0x3F
        syn, fin, rst = flags & 0x02, flags & 0x01, flags & 0x04
        payload = seg[doff:]
        a, b = (src, sport), (dst, dport)
        key = frozenset((a, b))
        conn = conns.get(key)
        if syn and not (flags & 0x10):  # a new connection attempt (SYN without ACK)
            if conn is None or conn.dirs[a].base is not None and conn.dirs[a].buf:
                conn = Connection(len(order), a, b)
                conns[key] = conn
                order.append(conn)
        if conn is None:
            conn = Connection(len(order), a, b)
            conns[key] = conn
            order.append(conn)
        d = conn.dirs[a]
        if syn:
            d.syn(seq)
            continue
        if rst:
            continue
        if d.segment(seq, payload):
            for msg in d.messages():
                conn.messages.append((a, ts, msg))
        if fin:
            d.fin = True
    problems = []
    for conn in order:
        for ep, d in conn.dirs.items():
            if d.pending:
                problems.append(f"connection {conn.index} from {ep[0]}:{ep[1]}: hole in stream, "
                                f"{len(d.pending)} segment(s) never became contiguous")
            if len(d.buf) != d.parsed:
                problems.append(f"connection {conn.index} from {ep[0]}:{ep[1]}: "
                                f"{len(d.buf) - d.parsed} trailing byte(s) are not a whole BGP message")
    return order, problems


# --------------------------------------------------------------------------
# a small BGP decoder, only for the summary and the --expect checks


CAP_NAMES = {1: "MP", 2: "RR", 5: "ENH", 6: "EXTMSG", 9: "ROLE", 64: "GR", 65: "AS4", 69: "ADDPATH",
             70: "ERR", 71: "LLGR", 73: "FQDN", 128: "RR-old", 74: "BFD", 75: "SOFTVER", 77: "PATHS-LIMIT"}
ATTR_NAMES = {1: "ORIGIN", 2: "AS_PATH", 3: "NEXT_HOP", 4: "MED", 5: "LOCAL_PREF", 6: "ATOMIC_AGGREGATE",
              7: "AGGREGATOR", 8: "COMMUNITIES", 9: "ORIGINATOR_ID", 10: "CLUSTER_LIST",
              14: "MP_REACH_NLRI", 15: "MP_UNREACH_NLRI", 16: "EXT_COMMUNITIES", 17: "AS4_PATH",
              18: "AS4_AGGREGATOR", 26: "AIGP", 32: "LARGE_COMMUNITIES", 35: "OTC"}


def open_caps(body):
    """Return list of (code, value bytes) of an OPEN body's capabilities."""
    caps = []
    optlen = body[9]
    opt = body[10 : 10 + optlen]
    if optlen == 255 and len(body) > 10 and body[10] == 255:  # RFC 9072 extended
        optlen = struct.unpack("!H", body[11:13])[0]
        opt = body[13 : 13 + optlen]
        ext = True
    else:
        ext = False
    i = 0
    while i < len(opt):
        ptype = opt[i]
        if ext:
            plen = struct.unpack("!H", opt[i + 1 : i + 3])[0]
            pval = opt[i + 3 : i + 3 + plen]
            i += 3 + plen
        else:
            plen = opt[i + 1]
            pval = opt[i + 2 : i + 2 + plen]
            i += 2 + plen
        if ptype != 2:
            continue
        j = 0
        while j < len(pval):
            code, clen = pval[j], pval[j + 1]
            caps.append((code, pval[j + 2 : j + 2 + clen]))
            j += 2 + clen
    return caps


def update_parts(body):
    wlen = struct.unpack("!H", body[0:2])[0]
    withdrawn = body[2 : 2 + wlen]
    alen = struct.unpack("!H", body[2 + wlen : 4 + wlen])[0]
    attrs_raw = body[4 + wlen : 4 + wlen + alen]
    nlri = body[4 + wlen + alen :]
    attrs = []
    i = 0
    while i < len(attrs_raw):
        flags, code = attrs_raw[i], attrs_raw[i + 1]
        if flags & 0x10:
            length = struct.unpack("!H", attrs_raw[i + 2 : i + 4])[0]
            val = attrs_raw[i + 4 : i + 4 + length]
            i += 4 + length
        else:
            length = attrs_raw[i + 2]
            val = attrs_raw[i + 3 : i + 3 + length]
            i += 3 + length
        attrs.append((code, val))
    return withdrawn, attrs, nlri


def afi_name(afi, safi):
    return {(1, 1): "ipv4", (2, 1): "ipv6"}.get((afi, safi), f"afi{afi}/safi{safi}")


def features(sender, msg, feats):
    """Record the features of one message as strings 'sender:...' in feats."""
    mtype = msg[18]
    name = MSG_TYPES.get(mtype, f"TYPE{mtype}")
    body = msg[19:]
    feats[f"{sender}:{name}"] += 1
    if mtype == 1:
        feats[f"{sender}:open:myas={struct.unpack('!H', body[1:3])[0]}"] += 1
        if body[9] == 0:
            feats[f"{sender}:open:no-optional-parameters"] += 1
        for code, val in open_caps(body):
            feats[f"{sender}:cap:{CAP_NAMES.get(code, code)}"] += 1
            if code == 1:
                afi, safi = struct.unpack("!HxB", val[:4])
                feats[f"{sender}:cap:MP:{afi_name(afi, safi)}"] += 1
            elif code == 69:
                for k in range(0, len(val), 4):
                    afi, safi, sr = struct.unpack("!HBB", val[k : k + 4])
                    feats[f"{sender}:cap:ADDPATH:{afi_name(afi, safi)}:{ {1: 'rx', 2: 'tx', 3: 'rx+tx'}.get(sr, sr)}"] += 1
            elif code == 5:
                for k in range(0, len(val), 6):
                    afi, safi, nhafi = struct.unpack("!HHH", val[k : k + 6])
                    feats[f"{sender}:cap:ENH:{afi_name(afi, safi)}:nh-afi{nhafi}"] += 1
            elif code == 65:
                feats[f"{sender}:cap:AS4={struct.unpack('!I', val)[0]}"] += 1
    elif mtype == 2:
        withdrawn, attrs, nlri = update_parts(body)
        if not withdrawn and not attrs and not nlri:
            feats[f"{sender}:eor:ipv4"] += 1
        if withdrawn:
            feats[f"{sender}:withdraw:ipv4"] += 1
        if nlri:
            feats[f"{sender}:reach:ipv4"] += 1
        for code, val in attrs:
            feats[f"{sender}:attr:{ATTR_NAMES.get(code, code)}"] += 1
            if code == 15:
                afi, safi = struct.unpack("!HB", val[:3])
                if len(val) == 3 and len(attrs) == 1 and not withdrawn and not nlri:
                    feats[f"{sender}:eor:{afi_name(afi, safi)}"] += 1
                elif len(val) > 3:
                    feats[f"{sender}:withdraw:{afi_name(afi, safi)}"] += 1
            elif code == 14:
                afi, safi, nhlen = struct.unpack("!HBB", val[:4])
                feats[f"{sender}:reach:{afi_name(afi, safi)}:nh{nhlen}"] += 1
    elif mtype == 3:
        feats[f"{sender}:notification:{body[0]}/{body[1]}"] += 1
        if body[0] == 6 and body[1] in (2, 4) and len(body) > 2:
            n = body[2]
            text = body[3 : 3 + n].decode("utf-8", "replace")
            feats[f"{sender}:shutdown-message:{text}"] += 1
    elif mtype == 5:
        afi, subtype, safi = struct.unpack("!HBB", body[:4])
        feats[f"{sender}:refresh:{afi_name(afi, safi)}:{ {0: 'request', 1: 'BoRR', 2: 'EoRR'}.get(subtype, subtype)}"] += 1
    return feats


# --------------------------------------------------------------------------
# optional cross-check against Wireshark's own TCP reassembly and BGP dissector


def tshark_check(pcap, conns):
    """Compare (type, length) of every message per sending endpoint with tshark.

    Returns a list of problems (empty if tshark agrees), or None if tshark is
    not installed."""
    tshark = shutil.which("tshark")
    if tshark is None:
        return None
    out = subprocess.run(
        [tshark, "-r", pcap, "-n", "-o", "tcp.desegment_tcp_streams:TRUE", "-Y", "bgp", "-T", "fields",
         "-E", "separator=/t", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "bgp.type",
         "-e", "bgp.length"],
        capture_output=True, text=True, check=True).stdout
    theirs = {}
    for line in out.splitlines():
        f = line.split("\t")
        src = ipaddress.ip_address(f[0] or f[1])
        types = [int(x) for x in f[3].split(",") if x]
        lens = [int(x) for x in f[4].split(",") if x]
        theirs.setdefault((src, int(f[2])), []).extend(zip(types, lens))
    ours = {}
    for c in conns:
        for ep, _ts, m in c.messages:
            ours.setdefault(ep, []).append((m[18], len(m)))
    problems = []
    for ep in sorted(set(ours) | set(theirs), key=str):
        if ours.get(ep, []) != theirs.get(ep, []):
            problems.append(f"tshark disagrees on messages from {ep[0]} port {ep[1]}: "
                            f"ours {ours.get(ep, [])[:6]}..., tshark {theirs.get(ep, [])[:6]}...")
    return problems


# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pcap")
    ap.add_argument("out", help="vector file to write ('-' for stdout)")
    ap.add_argument("--session", required=True)
    ap.add_argument("--a-desc", required=True, help="description of side a for the header")
    ap.add_argument("--b-desc", required=True)
    ap.add_argument("--a-ip", action="append", default=[], help="an address of side a (repeatable)")
    ap.add_argument("--b-ip", action="append", default=[], help="an address of side b (repeatable)")
    ap.add_argument("--captured", required=True, help="text for the '# captured:' header line")
    ap.add_argument("--note", action="append", default=[], help="extra '# ' header line (repeatable)")
    ap.add_argument("--expect", action="append", default=[],
                    help="feature key that must occur, e.g. a:attr:AS4_PATH or b:ROUTE-REFRESH; "
                         "a trailing '*' matches a prefix")
    ap.add_argument("--summary", action="store_true", help="print all feature keys with counts")
    ap.add_argument("--tshark", action="store_true",
                    help="cross-check message types and lengths against tshark, if installed")
    ap.add_argument("--all-connections", action="store_true",
                    help="also keep tcp connections that never reached Established")
    args = ap.parse_args()

    a_ips = {ipaddress.ip_address(x) for x in args.a_ip}
    b_ips = {ipaddress.ip_address(x) for x in args.b_ip}

    try:
        conns, problems = reassemble(args.pcap)
    except CaptureError as e:
        print(f"pcap2vec: {args.session}: {e}", file=sys.stderr)
        return 2
    if problems:
        for p in problems:
            print(f"pcap2vec: {args.session}: {p}", file=sys.stderr)
        return 2

    if args.tshark:
        problems = tshark_check(args.pcap, conns)
        if problems is None:
            print(f"pcap2vec: {args.session}: tshark not installed, cross-check skipped", file=sys.stderr)
        elif problems:
            for p in problems:
                print(f"pcap2vec: {args.session}: {p}", file=sys.stderr)
            return 2

    lines = []
    feats = Counter()
    used = []
    for c in conns:
        if not c.messages:
            continue
        # A connection on which not both sides got past OPEN and that carries
        # no NOTIFICATION (a reconnect attempt refused by a peer that is
        # shutting down or waiting after an error, a lost collision) is noise,
        # not part of the session; leave it out unless asked to keep everything.
        senders = {ep for ep, _ts, m in c.messages if m[18] in (2, 4, 5)}
        notified = any(m[18] == 3 for _ep, _ts, m in c.messages)
        if len(senders) < 2 and not notified and not args.all_connections:
            kinds = ", ".join(MSG_TYPES.get(m[18], "?") for _ep, _ts, m in c.messages)
            print(f"pcap2vec: {args.session}: leaving out tcp connection {c.client[0]} port {c.client[1]} -> "
                  f"{c.server[0]} port {c.server[1]} that never got established ({kinds})", file=sys.stderr)
            continue
        used.append(c)
    for n, conn in enumerate(used, 1):
        if len(used) > 1:
            lines.append(f"# tcp connection {n} of {len(used)}: {conn.client[0]} port {conn.client[1]} -> "
                         f"{conn.server[0]} port {conn.server[1]}")
        for (ip, _port), _ts, msg in conn.messages:
            if ip in a_ips:
                sender = "a"
            elif ip in b_ips:
                sender = "b"
            else:
                print(f"pcap2vec: {args.session}: message from unknown address {ip}", file=sys.stderr)
                return 2
            lines.append(f"{sender} {msg.hex()}")
            features(sender, msg, feats)

    if not lines:
        print(f"pcap2vec: {args.session}: no BGP messages in {args.pcap}", file=sys.stderr)
        return 2

    header = [f"# session: {args.session}", f"# a: {args.a_desc}", f"# b: {args.b_desc}"]
    header += [f"# {n}" for n in args.note]
    header.append(f"# captured: {args.captured}")
    text = "\n".join(header + lines) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w") as f:
            f.write(text)

    counts = Counter()
    for line in lines:
        if not line.startswith("#"):
            counts[MSG_TYPES.get(int(line[2 + 36 : 2 + 38], 16), "?")] += 1
    print(f"{args.session}: " + ", ".join(f"{k} {counts[k]}" for k in MSG_TYPES.values() if counts[k])
          + f" ({len(used)} tcp connection(s))", file=sys.stderr)
    if args.summary:
        for k in sorted(feats):
            print(f"  {k} x{feats[k]}", file=sys.stderr)

    missing = []
    for want in args.expect:
        if want.endswith("*"):
            ok = any(k.startswith(want[:-1]) for k in feats)
        else:
            ok = want in feats
        if not ok:
            missing.append(want)
    if missing:
        print(f"pcap2vec: {args.session}: expected but not captured: {', '.join(missing)}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
