#!/usr/bin/env python3
"""Self-test of pcap2vec's TCP reassembly on synthetic captures.

Builds pcaps by hand in which BGP messages are split across segments,
several messages share a segment, segments are retransmitted (also with
overlap) and arrive out of order, and checks that pcap2vec recovers exactly
the messages that were sent.  No root and no network needed:

    python3 tools/golden/test_pcap2vec.py
"""

import os
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import pcap2vec  # noqa: E402

A_IP, B_IP = bytes([10, 9, 0, 1]), bytes([10, 9, 0, 2])
A6, B6 = bytes.fromhex("fd000009" + "0" * 23 + "1"), bytes.fromhex("fd000009" + "0" * 23 + "2")


def bgp(mtype, body=b""):
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), mtype) + body


# AS 65001, hold 180, id 10.0.9.1, capabilities MP ipv4/unicast, 4-octet AS 65001, route refresh
OPEN_A = bgp(1, bytes.fromhex("04fde900b40a00090114" "020601040001000102064104" "0000fde9" "02020200"))
OPEN_B = bgp(1, bytes.fromhex("045ba000f00a00090200"))
KEEP = bgp(4)
UPD = bgp(2, bytes.fromhex("0000001c400101005002000602010000fde94003040a00090180040400000000180a0103"))
# an UPDATE larger than one segment: an optional transitive attribute (type 99,
# extended length) of 3000 bytes
BIG = bgp(2, struct.pack("!HH", 0, 4 + 3000) + struct.pack("!BBH", 0xD0, 99, 3000) + bytes(range(256)) * 11
          + bytes(184))


class Capture:
    """Writes Ethernet/IPv4-or-IPv6/TCP frames into a classic pcap."""

    def __init__(self, v6=False):
        self.frames = []
        self.v6 = v6
        self.t = 0.0

    def seg(self, src_is_a, seq, ack, flags, payload=b""):
        src, dst = (A6, B6) if self.v6 else (A_IP, B_IP)
        if not src_is_a:
            src, dst = dst, src
        sport, dport = (40001, 179) if src_is_a else (179, 40001)
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0) + payload
        if self.v6:
            ip = struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, src, dst)
            etype = 0x86DD
        else:
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
            etype = 0x0800
        eth = b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", etype)
        self.t += 0.001
        self.frames.append((self.t, eth + ip + tcp))

    def write(self, path):
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
            for t, fr in self.frames:
                f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(fr), len(fr)) + fr)


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


def run(cap, *extra):
    with tempfile.TemporaryDirectory() as d:
        pcap, out = os.path.join(d, "t.pcap"), os.path.join(d, "t.txt")
        cap.write(pcap)
        ips = ["--a-ip", "10.9.0.1", "--b-ip", "10.9.0.2", "--a-ip", "fd00:9::1", "--b-ip", "fd00:9::2"]
        res = subprocess.run([sys.executable, os.path.join(HERE, "pcap2vec.py"), pcap, out, "--session", "t",
                              "--a-desc", "x", "--b-desc", "y", "--captured", "test", *ips, *extra],
                             capture_output=True, text=True)
        text = ""
        if os.path.exists(out):
            with open(out) as f:
                text = f.read()
    msgs = [(ln[0], bytes.fromhex(ln[2:])) for ln in text.splitlines() if ln and not ln.startswith("#")]
    return res.returncode, msgs, res.stderr


def handshake(cap, isn_a=1000, isn_b=0xFFFFFF00):
    cap.seg(True, isn_a, 0, SYN)
    cap.seg(False, isn_b, isn_a + 1, SYN | ACK)
    cap.seg(True, isn_a + 1, isn_b + 1, ACK)
    return isn_a + 1, isn_b + 1


class Reassembly(unittest.TestCase):
    def test_simple_session(self):
        for v6 in (False, True):
            cap = Capture(v6)
            sa, sb = handshake(cap)
            for side, m in ((True, OPEN_A), (False, OPEN_B), (False, KEEP), (True, KEEP), (True, UPD)):
                if side:
                    cap.seg(True, sa, sb, ACK | PSH, m)
                    sa += len(m)
                else:
                    cap.seg(False, sb, sa, ACK | PSH, m)
                    sb += len(m)
            rc, msgs, err = run(cap)
            self.assertEqual(rc, 0, err)
            self.assertEqual(msgs, [("a", OPEN_A), ("b", OPEN_B), ("b", KEEP), ("a", KEEP), ("a", UPD)])

    def test_split_merged_retransmitted_reordered(self):
        cap = Capture()
        sa, sb = handshake(cap)  # b's sequence numbers wrap around 2^32
        stream_a = OPEN_A + KEEP + UPD + UPD + KEEP
        stream_b = OPEN_B + KEEP + BIG + KEEP
        # a: OPEN split in three, KEEPALIVE+UPDATE+half UPDATE in one segment,
        # then a retransmission overlapping old and new data, then the rest
        cuts_a = [0, 7, 30, len(OPEN_A), len(OPEN_A) + 19 + len(UPD) + 10]
        for x, y in zip(cuts_a, cuts_a[1:]):
            cap.seg(True, sa + x, sb, ACK | PSH, stream_a[x:y])
        cap.seg(True, sa + cuts_a[1], sb, ACK | PSH, stream_a[cuts_a[1]:cuts_a[-1]])  # pure retransmission
        x = cuts_a[-1]
        cap.seg(True, sa + x - 5, sb, ACK | PSH, stream_a[x - 5:])  # overlapping retransmission + new data
        cap.seg(True, sa + x - 5, sb, ACK | PSH, stream_a[x - 5:])  # duplicate
        # b: segments out of order: 3rd before 2nd, big UPDATE across three segments
        cuts_b = [0, len(OPEN_B) + 19 + 100, len(OPEN_B) + 19 + 1500, len(stream_b) - 10, len(stream_b)]
        segs = [(cuts_b[i], stream_b[cuts_b[i]:cuts_b[i + 1]]) for i in range(4)]
        for off, data in (segs[0], segs[2], segs[1], segs[3]):
            cap.seg(False, sb + off, sa, ACK | PSH, data)
        cap.seg(True, sa + len(stream_a), sb + len(stream_b), ACK | FIN)
        rc, msgs, err = run(cap)
        self.assertEqual(rc, 0, err)
        got_a = [m for s, m in msgs if s == "a"]
        got_b = [m for s, m in msgs if s == "b"]
        self.assertEqual(got_a, [OPEN_A, KEEP, UPD, UPD, KEEP])
        self.assertEqual(got_b, [OPEN_B, KEEP, BIG, KEEP])

    def test_hole_is_an_error(self):
        cap = Capture()
        sa, sb = handshake(cap)
        cap.seg(True, sa, sb, ACK | PSH, OPEN_A[:10])
        cap.seg(True, sa + 20, sb, ACK | PSH, OPEN_A[20:])  # bytes 10..19 never seen
        rc, _msgs, err = run(cap)
        self.assertNotEqual(rc, 0)
        self.assertIn("hole", err)

    def test_changed_retransmission_is_an_error(self):
        cap = Capture()
        sa, sb = handshake(cap)
        cap.seg(True, sa, sb, ACK | PSH, OPEN_A)
        bad = bytearray(OPEN_A)
        bad[-1] ^= 1
        cap.seg(True, sa, sb, ACK | PSH, bytes(bad))
        rc, _msgs, err = run(cap)
        self.assertNotEqual(rc, 0)
        self.assertIn("differs", err)

    def test_unestablished_connection_left_out(self):
        cap = Capture()
        sa, sb = handshake(cap, 1000, 2000)
        cap.seg(True, sa, sb, ACK | PSH, OPEN_A)
        cap.seg(False, sb, sa + len(OPEN_A), ACK | FIN)
        rc, msgs, err = run(cap)
        self.assertEqual(rc, 2)  # the refused attempt is the only connection: nothing left
        self.assertIn("never got established", err)
        rc, msgs, err = run(cap, "--all-connections")
        self.assertEqual(rc, 0, err)
        self.assertEqual(msgs, [("a", OPEN_A)])

    def test_expectations(self):
        cap = Capture()
        sa, sb = handshake(cap)
        for side, m in ((True, OPEN_A), (False, OPEN_B), (False, KEEP), (True, KEEP), (True, UPD)):
            if side:
                cap.seg(True, sa, sb, ACK | PSH, m)
                sa += len(m)
            else:
                cap.seg(False, sb, sa, ACK | PSH, m)
                sb += len(m)
        rc, _m, err = run(cap, "--expect", "a:attr:MED", "--expect", "b:open:myas=23456", "--expect", "a:cap:AS4=*")
        self.assertEqual(rc, 0, err)
        rc, _m, err = run(cap, "--expect", "b:attr:MED")
        self.assertEqual(rc, 3)


class Decoder(unittest.TestCase):
    def test_features_of_open(self):
        feats = pcap2vec.features("a", OPEN_A, __import__("collections").Counter())
        self.assertIn("a:cap:AS4=65001", feats)
        self.assertIn("a:cap:MP:ipv4", feats)
        self.assertIn("a:open:myas=65001", feats)


if __name__ == "__main__":
    unittest.main()
