//! bgplane against OpenBGPD.

use crate::harness::daemon::Kind;
use crate::scenarios::{self, Session};

const KIND: Kind = Kind::Openbgpd;

#[test]
fn ebgp_session_carries_routes_withdrawals_refreshes_and_notifications_when_bgplane_connects() {
    let s = Session {
        internal: false,
        bgplane_connects: true,
        md5: false,
        gtsm: false,
    };
    scenarios::session_carries_routes_withdrawals_refreshes_and_notifications("obgp-eb", KIND, s);
}

#[test]
fn ebgp_session_carries_routes_withdrawals_refreshes_and_notifications_when_openbgpd_connects() {
    let s = Session {
        internal: false,
        bgplane_connects: false,
        md5: false,
        gtsm: false,
    };
    scenarios::session_carries_routes_withdrawals_refreshes_and_notifications("obgp-ed", KIND, s);
}

#[test]
fn ibgp_session_carries_routes_withdrawals_refreshes_and_notifications_when_bgplane_connects() {
    let s = Session {
        internal: true,
        bgplane_connects: true,
        md5: false,
        gtsm: false,
    };
    scenarios::session_carries_routes_withdrawals_refreshes_and_notifications("obgp-ib", KIND, s);
}

#[test]
fn ibgp_session_carries_routes_withdrawals_refreshes_and_notifications_when_openbgpd_connects() {
    let s = Session {
        internal: true,
        bgplane_connects: false,
        md5: false,
        gtsm: false,
    };
    scenarios::session_carries_routes_withdrawals_refreshes_and_notifications("obgp-id", KIND, s);
}

#[test]
fn hard_resets_from_either_side_bring_the_session_and_routes_back() {
    scenarios::hard_resets_bring_the_session_and_routes_back("obgp-hr", KIND);
}

#[test]
fn md5_session_comes_up_and_carries_routes_when_bgplane_connects() {
    let s = Session {
        internal: false,
        bgplane_connects: true,
        md5: true,
        gtsm: false,
    };
    scenarios::session_comes_up_and_carries_routes("obgp-mb", KIND, s);
}

#[test]
fn md5_session_comes_up_and_carries_routes_when_openbgpd_connects() {
    let s = Session {
        internal: false,
        bgplane_connects: false,
        md5: true,
        gtsm: false,
    };
    scenarios::session_comes_up_and_carries_routes("obgp-md", KIND, s);
}

#[test]
fn gtsm_session_comes_up_and_carries_routes_when_bgplane_connects() {
    let s = Session {
        internal: false,
        bgplane_connects: true,
        md5: false,
        gtsm: true,
    };
    scenarios::session_comes_up_and_carries_routes("obgp-gb", KIND, s);
}

#[test]
fn gtsm_session_comes_up_and_carries_routes_when_openbgpd_connects() {
    let s = Session {
        internal: false,
        bgplane_connects: false,
        md5: false,
        gtsm: true,
    };
    scenarios::session_comes_up_and_carries_routes("obgp-gd", KIND, s);
}
