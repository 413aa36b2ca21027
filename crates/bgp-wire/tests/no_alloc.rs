//! Decoding an UPDATE and iterating its prefixes must not allocate (issue #2: "iterating the
//! prefixes of an UPDATE must not allocate per prefix"). A counting global allocator counts
//! the allocations made by this test's thread while it decodes and walks a packed UPDATE
//! of IPv4 NLRI and one of IPv6 MP_REACH_NLRI.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{Ipv4Addr, Ipv6Addr};

use bgp_wire::update::owned::encode_attributes;
use bgp_wire::{
    AsPath, AttributeValue, Community, Family, Ipv4Prefix, Ipv6Prefix, Message, MpNextHop, Nlri,
    Origin, PathAttribute, SessionContext, UpdatePacker,
};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    COUNT.with(Cell::get)
}

fn attributes(ctx: &SessionContext, next_hop: Ipv4Addr) -> Vec<u8> {
    let attrs = [
        PathAttribute::new(AttributeValue::Origin(Origin::Igp)),
        PathAttribute::new(AttributeValue::AsPath(AsPath::sequence([
            65001, 64512, 3356, 1299,
        ]))),
        PathAttribute::new(AttributeValue::NextHop(next_hop)),
        PathAttribute::new(AttributeValue::MultiExitDisc(10)),
        PathAttribute::new(AttributeValue::Communities(vec![Community::new(65001, 1)])),
    ];
    let mut out = Vec::new();
    encode_attributes(&attrs, ctx, &mut out);
    out
}

#[test]
fn the_counter_sees_an_allocation_of_this_thread() {
    let n = allocations(|| {
        let v: Vec<u8> = std::hint::black_box(Vec::with_capacity(64));
        drop(v);
    });
    assert_eq!(n, 1);
}

#[test]
fn decoding_an_update_and_iterating_its_prefixes_allocates_nothing() {
    let ctx = SessionContext::ebgp();
    let packer = UpdatePacker::new(ctx);
    let mut msg = Vec::new();
    let nlri = (0..900u32)
        .map(|i| Nlri::new(Ipv4Prefix::new(Ipv4Addr::from(0x1000_0000 + (i << 8)), 24).unwrap()));
    let attrs = attributes(&ctx, Ipv4Addr::new(10, 0, 0, 1));
    let written = packer.announce_ipv4(&attrs, nlri, &mut msg).unwrap();
    assert!(written >= 1);
    let (mut prefixes, mut sum) = (0usize, 0u64);
    let n = allocations(|| {
        let mut rest = &msg[..];
        while !rest.is_empty() {
            let len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
            let (m, _) = Message::decode(&rest[..len], &ctx).unwrap();
            let Message::Update(u) = m else {
                panic!("not an UPDATE")
            };
            for (_, n) in u.announced() {
                prefixes += 1;
                sum += u64::from(n.prefix.prefix_len());
            }
            sum += u64::from(u.med().unwrap_or(0));
            sum += u.as_path().map_or(0, |p| p.path_len() as u64);
            rest = &rest[len..];
        }
    });
    assert_eq!(prefixes, 900);
    assert!(sum > 0);
    assert_eq!(
        n, 0,
        "{n} allocations while decoding and iterating 900 IPv4 prefixes"
    );
}

#[test]
fn iterating_ipv6_mp_reach_prefixes_allocates_nothing() {
    let ctx = SessionContext::ebgp();
    let packer = UpdatePacker::new(ctx);
    let mut msg = Vec::new();
    let nlri = (0..200u128).map(|i| {
        Nlri::new(Ipv6Prefix::new(Ipv6Addr::from((0x2001_0db8u128 << 96) | (i << 80)), 48).unwrap())
    });
    let attrs = attributes(&ctx, Ipv4Addr::new(10, 0, 0, 1));
    let nh = MpNextHop::V6 {
        global: "2001:db8::1".parse().unwrap(),
        link_local: None,
    };
    packer
        .announce_mp(Family::IPV6_UNICAST, &nh, &attrs, nlri, &mut msg)
        .unwrap();
    let mut prefixes = 0usize;
    let n = allocations(|| {
        let mut rest = &msg[..];
        while !rest.is_empty() {
            let len = usize::from(u16::from_be_bytes([rest[16], rest[17]]));
            let (m, _) = Message::decode(&rest[..len], &ctx).unwrap();
            let Message::Update(u) = m else {
                panic!("not an UPDATE")
            };
            prefixes += u
                .announced()
                .filter(|(f, _)| *f == Family::IPV6_UNICAST)
                .count();
            rest = &rest[len..];
        }
    });
    assert_eq!(prefixes, 200);
    assert_eq!(
        n, 0,
        "{n} allocations while decoding and iterating 200 IPv6 prefixes"
    );
}
