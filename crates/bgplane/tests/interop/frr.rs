//! bgplane against FRR.

use crate::harness::daemon::Kind;
use crate::scenarios::{self, Session};

const KIND: Kind = Kind::Frr;

#[test]
fn ebgp_session_carries_routes_withdrawals_refreshes_and_notifications_when_bgplane_connects() {
    let s = Session {
        internal: false,
        bgplane_connects: true,
        md5: false,
        gtsm: false,
    };
    scenarios::session_carries_routes_withdrawals_refreshes_and_notifications("frr-eb", KIND, s);
}

#[test]
fn ebgp_session_carries_routes_withdrawals_refreshes_and_notifications_when_frr_connects() {
    let s = Session {
        internal: false,
        bgplane_connects: false,
        md5: false,
        gtsm: false,
    };
    scenarios::session_carries_routes_withdrawals_refreshes_and_notifications("frr-ed", KIND, s);
}

#[test]
fn ibgp_session_carries_routes_withdrawals_refreshes_and_notifications_when_bgplane_connects() {
    let s = Session {
        internal: true,
        bgplane_connects: true,
        md5: false,
        gtsm: false,
    };
    scenarios::session_carries_routes_withdrawals_refreshes_and_notifications("frr-ib", KIND, s);
}

#[test]
fn ibgp_session_carries_routes_withdrawals_refreshes_and_notifications_when_frr_connects() {
    let s = Session {
        internal: true,
        bgplane_connects: false,
        md5: false,
        gtsm: false,
    };
    scenarios::session_carries_routes_withdrawals_refreshes_and_notifications("frr-id", KIND, s);
}

#[test]
fn hard_resets_from_either_side_bring_the_session_and_routes_back() {
    scenarios::hard_resets_bring_the_session_and_routes_back("frr-hr", KIND);
}

#[test]
fn md5_session_comes_up_and_carries_routes_when_bgplane_connects() {
    let s = Session {
        internal: false,
        bgplane_connects: true,
        md5: true,
        gtsm: false,
    };
    scenarios::session_comes_up_and_carries_routes("frr-mb", KIND, s);
}

#[test]
fn md5_session_comes_up_and_carries_routes_when_frr_connects() {
    let s = Session {
        internal: false,
        bgplane_connects: false,
        md5: true,
        gtsm: false,
    };
    scenarios::session_comes_up_and_carries_routes("frr-md", KIND, s);
}

#[test]
fn gtsm_session_comes_up_and_carries_routes_when_bgplane_connects() {
    let s = Session {
        internal: false,
        bgplane_connects: true,
        md5: false,
        gtsm: true,
    };
    scenarios::session_comes_up_and_carries_routes("frr-gb", KIND, s);
}

#[test]
fn gtsm_session_comes_up_and_carries_routes_when_frr_connects() {
    let s = Session {
        internal: false,
        bgplane_connects: false,
        md5: false,
        gtsm: true,
    };
    scenarios::session_comes_up_and_carries_routes("frr-gd", KIND, s);
}
