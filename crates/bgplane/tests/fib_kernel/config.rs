//! What the FIB settings do: `--no-fib` writes nothing while the RIB holds routes;
//! `fib: { table, protocol, metric }` puts the routes in that table with that protocol
//! and metric, and nothing in `main`.
//!
//! Topology: bgplane in `a` with a scripted iBGP peer in `b` (a 10.90.0.1, b 10.90.0.2)
//! announcing routes whose next hop is the peer's address.

use std::net::IpAddr;
use std::time::Duration;

use crate::harness::{holds_for, kernel, timeouts, wait_for, Lab};
use crate::support::{self, field, none_of_protocol, table_routes};

const PREFIXES: [&str; 2] = ["10.55.1.0/24", "10.55.2.0/24"];

#[test]
fn with_no_fib_routes_in_the_rib_put_nothing_in_the_kernel() {
    let Some(lab) = Lab::new("fk-nofib", &[]) else {
        return;
    };
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let lb = lab.link(&a, &b);
    let bg = support::bgplane(&lab, &a, &lb, "", false);
    let peer = support::peer(&bg, &lb);
    for p in PREFIXES {
        support::announce(&peer, p, lb.b4);
    }
    for p in PREFIXES {
        support::wait_path(&bg, p, IpAddr::V4(lb.b4));
    }
    holds_for(
        "an empty kernel FIB under --no-fib",
        Duration::from_secs(3),
        || {
            none_of_protocol(&a, 186)?;
            for p in PREFIXES {
                let r = table_routes(&a, "all", p);
                if !r.is_empty() {
                    return Err(format!("{p} in the kernel: {r:?}"));
                }
            }
            Ok(())
        },
    );
}

#[test]
fn a_configured_table_protocol_and_metric_hold_the_routes_and_main_gets_none() {
    let Some(lab) = Lab::new("fk-table", &[]) else {
        return;
    };
    let (a, b) = (lab.netns("a"), lab.netns("b"));
    let lb = lab.link(&a, &b);
    let fib = "  fib: { table: 100, protocol: 200, metric: 333 }\n";
    let bg = support::bgplane(&lab, &a, &lb, fib, true);
    let peer = support::peer(&bg, &lb);
    let gateway = lb.b4.to_string();
    for p in PREFIXES {
        support::announce(&peer, p, lb.b4);
    }
    for p in PREFIXES {
        let r = wait_for(
            &format!("{p} in table 100"),
            timeouts::ROUTES,
            || match table_routes(&a, "100", p).as_slice() {
                [r] => Ok(r.clone()),
                other => Err(format!("{other:?}")),
            },
        );
        let got = (
            field(&r, "protocol"),
            field(&r, "metric"),
            field(&r, "gateway"),
        );
        assert_eq!(
            got,
            ("200".to_string(), "333".to_string(), gateway.clone()),
            "{p}: {r}"
        );
        kernel::no_route(&a, p).expect("nothing in main");
    }
    none_of_protocol(&a, 186).expect("nothing of the default protocol");
    // A withdrawal removes the route from the configured table.
    support::withdraw(&peer, PREFIXES[0]);
    wait_for(
        "the withdrawn route to leave table 100",
        timeouts::ROUTES,
        || match table_routes(&a, "100", PREFIXES[0]).as_slice() {
            [] => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    assert_eq!(
        table_routes(&a, "100", PREFIXES[1]).len(),
        1,
        "the other stays"
    );
}
