//! BFD for a node's peers. Cilium's BGP resources have no BFD field (cilium/cilium#22394),
//! so bgplane reads it from an annotation of the object that sets the peers up: a
//! `CiliumBGPPeerConfig` (cilium.io/v2; its peers) or a `CiliumBGPPeeringPolicy`
//! (v2alpha1; all its neighbors). An annotation passes the API server's schema untouched,
//! so the same manifests still apply to a cluster running Cilium.

use std::collections::BTreeMap;

use bgp::config::{BfdSetting, BfdTimers};

/// The annotation: `"true"` (FRR's defaults: 300 ms, multiplier 3), `"false"`, or timers
/// as `key=value` pairs separated by commas, named as the router's `bfd:` keys:
/// `transmit-interval=100,receive-interval=100,detect-multiplier=3,passive-mode=true`,
/// and `multihop=true`, `minimum-ttl=254` (a key left out keeps its default).
pub const BFD_ANNOTATION: &str = "bgplane.io/bfd";

/// The BFD setting of an object's annotations; `None` without the annotation. An error
/// gives the field and the problem.
pub(super) fn from_annotations(
    annotations: Option<&BTreeMap<String, String>>,
) -> Result<Option<BfdSetting>, (String, String)> {
    let Some(value) = annotations.and_then(|a| a.get(BFD_ANNOTATION)) else {
        return Ok(None);
    };
    let field = format!("metadata.annotations[{BFD_ANNOTATION:?}]");
    let setting = parse(value.trim()).map_err(|problem| (field.clone(), problem))?;
    setting.check().map_err(|problem| (field, problem))?;
    Ok(Some(setting))
}

fn parse(value: &str) -> Result<BfdSetting, String> {
    match value {
        "true" => return Ok(BfdSetting::Switch(true)),
        "false" => return Ok(BfdSetting::Switch(false)),
        _ => {}
    }
    let mut t = BfdTimers::default();
    for pair in value.split(',').map(str::trim) {
        let Some((key, v)) = pair.split_once('=') else {
            return Err(format!(
                "{pair:?} is not key=value; expected \"true\", \"false\" or keys transmit-interval, receive-interval, detect-multiplier, passive-mode, multihop, minimum-ttl"
            ));
        };
        let (key, v) = (key.trim(), v.trim());
        let number = |what: &str| -> Result<u32, String> {
            v.parse().map_err(|_| format!("{key}: {v:?} is not {what}"))
        };
        match key {
            "transmit-interval" => t.transmit_interval = number("a number of milliseconds")?,
            "receive-interval" => t.receive_interval = number("a number of milliseconds")?,
            "detect-multiplier" => {
                t.detect_multiplier = u8::try_from(number("a number")?)
                    .map_err(|_| format!("detect-multiplier {v}: must be 2 to 255"))?
            }
            "passive-mode" => {
                t.passive_mode = v
                    .parse()
                    .map_err(|_| format!("passive-mode: {v:?} is not true or false"))?
            }
            "multihop" => {
                t.multihop = Some(
                    v.parse()
                        .map_err(|_| format!("multihop: {v:?} is not true or false"))?,
                )
            }
            "minimum-ttl" => {
                t.minimum_ttl = u8::try_from(number("a number")?)
                    .map_err(|_| format!("minimum-ttl {v}: must be 1 to 254"))?
            }
            other => {
                return Err(format!(
                    "unknown key {other:?}; the keys are transmit-interval, receive-interval, detect-multiplier, passive-mode, multihop, minimum-ttl"
                ))
            }
        }
    }
    Ok(BfdSetting::Timers(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(v: &str) -> Result<Option<BfdSetting>, (String, String)> {
        let a = BTreeMap::from([(BFD_ANNOTATION.to_string(), v.to_string())]);
        from_annotations(Some(&a))
    }

    #[test]
    fn no_annotation_means_no_bfd_setting() {
        assert_eq!(from_annotations(None), Ok(None));
        assert_eq!(from_annotations(Some(&BTreeMap::new())), Ok(None));
    }

    #[test]
    fn true_and_false_switch_bfd_with_frr_defaults() {
        assert_eq!(of("true"), Ok(Some(BfdSetting::Switch(true))));
        assert_eq!(of(" false "), Ok(Some(BfdSetting::Switch(false))));
    }

    #[test]
    fn timers_are_read_by_name_and_the_others_keep_their_defaults() {
        let t = of("transmit-interval=100, receive-interval = 150,passive-mode=true")
            .unwrap()
            .unwrap()
            .timers()
            .unwrap();
        assert_eq!(
            (
                t.transmit_interval,
                t.receive_interval,
                t.detect_multiplier,
                t.passive_mode,
                t.multihop,
                t.minimum_ttl
            ),
            (100, 150, 3, true, None, 254)
        );
        let t = of("multihop=true,minimum-ttl=250")
            .unwrap()
            .unwrap()
            .timers()
            .unwrap();
        assert_eq!((t.multihop, t.minimum_ttl), (Some(true), 250));
    }

    #[test]
    fn a_bad_annotation_names_the_annotation_and_the_problem() {
        for (v, want) in [
            ("yes", "is not key=value"),
            ("transmit-interval=fast", "is not a number of milliseconds"),
            (
                "transmit-interval=5",
                "transmit-interval 5 ms: must be 10 to 60000",
            ),
            (
                "detect-multiplier=1",
                "detect-multiplier 1: must be 2 to 255",
            ),
            (
                "detect-multiplier=300",
                "detect-multiplier 300: must be 2 to 255",
            ),
            ("echo=true", "unknown key \"echo\""),
            ("passive-mode=maybe", "is not true or false"),
            ("minimum-ttl=255", "minimum-ttl 255: must be 1 to 254"),
            ("minimum-ttl=300", "minimum-ttl 300: must be 1 to 254"),
        ] {
            let (field, problem) = of(v).unwrap_err();
            assert_eq!(field, "metadata.annotations[\"bgplane.io/bfd\"]");
            assert!(problem.contains(want), "{v}: {problem}");
        }
    }
}
