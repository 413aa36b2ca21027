use std::net::Ipv4Addr;

use proptest::prelude::*;

use super::collision::local_wins_collision;

#[test]
fn the_higher_identifier_wins_a_collision_whatever_the_as_numbers() {
    let (low, high) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    assert!(local_wins_collision(high, 1, low, 4_200_000_000));
    assert!(!local_wins_collision(low, 4_200_000_000, high, 1));
}

#[test]
fn equal_identifiers_are_decided_by_the_larger_as_per_rfc6286() {
    let id = Ipv4Addr::new(192, 0, 2, 1);
    assert!(local_wins_collision(id, 65001, id, 65000));
    assert!(!local_wins_collision(id, 65000, id, 65001));
}

proptest! {
    /// Both ends reach the same verdict: exactly one of them keeps the connection it opened
    /// (with equal identifiers the AS numbers differ, RFC 6286 §2.2 refuses iBGP otherwise).
    #[test]
    fn exactly_one_side_wins_every_collision(
        a in any::<u32>(), b in any::<u32>(), asn_a in any::<u32>(), asn_b in any::<u32>(),
    ) {
        prop_assume!((a, asn_a) != (b, asn_b));
        let (ia, ib) = (Ipv4Addr::from(a), Ipv4Addr::from(b));
        prop_assert_ne!(
            local_wins_collision(ia, asn_a, ib, asn_b),
            local_wins_collision(ib, asn_b, ia, asn_a)
        );
    }
}
