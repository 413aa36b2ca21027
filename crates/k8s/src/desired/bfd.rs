//! BFD for a node's peers. Cilium's BGP resources have no BFD field (cilium/cilium#22394),
//! so bgplane reads it from an annotation of the object that sets the peers up: a
//! `CiliumBGPPeerConfig` (cilium.io/v2; its peers) or a `CiliumBGPPeeringPolicy`
//! (v2alpha1; all its neighbors). An annotation passes the API server's schema untouched,
//! so the same manifests still apply to a cluster running Cilium.

use std::collections::BTreeMap;

use bgp::config::{BfdSetting, BfdTimers};

/// The annotation: the router's `bfd:` setting, written in YAML: `"true"` (FRR's defaults:
/// 300 ms, multiplier 3), `"false"`, or the timers by name, such as `"{ transmit-interval:
/// 100, receive-interval: 100 }"` (a key left out keeps its default). Authentication is
/// refused here: an annotation is no place for a secret.
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
    let problem = |p: String| (field.clone(), p);
    let setting: BfdSetting = match serde_norway::from_str::<BfdSetting>(value) {
        Ok(s) => s,
        // Untagged, the setting's own error says nothing of the timers' keys.
        Err(_) => BfdSetting::Timers(serde_norway::from_str::<BfdTimers>(value).map_err(|e| {
            problem(format!(
                "{value:?}: {e}; expected true, false or {{ transmit-interval: MS, ... }}"
            ))
        })?),
    };
    if let BfdSetting::Timers(t) = &setting {
        if t.authentication.is_some() {
            return Err(problem(
                "authentication is not taken from an annotation (no place for a secret)".into(),
            ));
        }
    }
    setting.check().map_err(problem)?;
    Ok(Some(setting))
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
        let t = of("{ transmit-interval: 100, receive-interval: 150, passive-mode: true }")
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
        let t = of("{ multihop: true, minimum-ttl: 250 }")
            .unwrap()
            .unwrap()
            .timers()
            .unwrap();
        assert_eq!((t.multihop, t.minimum_ttl), (Some(true), 250));
    }

    #[test]
    fn a_bad_annotation_names_the_annotation_and_the_problem() {
        for (v, want) in [
            ("yes", "expected true, false or"),
            ("{ transmit-interval: fast }", "transmit-interval"),
            (
                "{ transmit-interval: 5 }",
                "transmit-interval 5 ms: must be 10 to 60000",
            ),
            (
                "{ detect-multiplier: 1 }",
                "detect-multiplier 1: must be 2 to 255",
            ),
            ("{ detect-multiplier: 300 }", "detect-multiplier"),
            ("{ echo: true }", "unknown field `echo`"),
            ("{ minimum-ttl: 255 }", "minimum-ttl 255: must be 1 to 254"),
            (
                "{ authentication: { type: keyed-md5, password: x } }",
                "authentication is not taken from an annotation",
            ),
        ] {
            let (field, problem) = of(v).unwrap_err();
            assert_eq!(field, "metadata.annotations[\"bgplane.io/bfd\"]");
            assert!(problem.contains(want), "{v}: {problem}");
        }
    }
}
