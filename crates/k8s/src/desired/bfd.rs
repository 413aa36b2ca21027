//! BFD for a node's peers. Cilium's BGP resources have no BFD field (cilium/cilium#22394),
//! so bgplane reads it from an annotation of the object that sets the peers up: a
//! `CiliumBGPPeerConfig` (cilium.io/v2; its peers) or a `CiliumBGPPeeringPolicy`
//! (v2alpha1; all its neighbors). An annotation passes the API server's schema untouched,
//! so the same manifests still apply to a cluster running Cilium.

use std::collections::BTreeMap;

use bgp::config::{BfdAuth, BfdSetting};

/// The annotation: the router's `bfd:` setting, written in YAML: `"true"` (FRR's defaults:
/// 300 ms, multiplier 3), `"false"`, or the timers by name, such as `"{ transmit-interval:
/// 100, receive-interval: 100 }"` (a key left out keeps its default). Authentication is
/// refused here: an annotation is no place for a secret; see [`BFD_AUTH_ANNOTATION`].
pub const BFD_ANNOTATION: &str = "bgplane.io/bfd";

/// The annotation naming a Secret (in the namespace of `authSecretRef`'s Secrets) that
/// authenticates the BFD packets (RFC 5880 §6.7): its key `password`, and optionally
/// `type` (`meticulous-keyed-sha1` when left out, or `keyed-sha1`, `meticulous-keyed-md5`,
/// `keyed-md5`, `simple-password`) and `key-id` (1).
pub const BFD_AUTH_ANNOTATION: &str = "bgplane.io/bfd-auth-secret";

/// The Auth Type when the Secret has no `type` key: the strongest of RFC 5880.
const DEFAULT_AUTH_TYPE: &str = "meticulous-keyed-sha1";

/// The BFD setting of an object's annotations; `None` without the annotation. `secret`
/// reads a key of a Secret. An error gives the field and the problem.
pub(super) fn from_annotations(
    annotations: Option<&BTreeMap<String, String>>,
    secret: &dyn Fn(&str, &str) -> Option<String>,
) -> Result<Option<BfdSetting>, (String, String)> {
    let get = |k: &str| annotations.and_then(|a| a.get(k));
    let auth_secret = get(BFD_AUTH_ANNOTATION);
    let Some(value) = get(BFD_ANNOTATION) else {
        return match auth_secret {
            None => Ok(None),
            Some(_) => Err((
                annotation_field(BFD_AUTH_ANNOTATION),
                format!("set without {BFD_ANNOTATION:?}, which switches BFD on"),
            )),
        };
    };
    let field = annotation_field(BFD_ANNOTATION);
    let problem = |p: String| (field.clone(), p);
    let setting = serde_norway::from_str::<BfdSetting>(value)
        .map_err(|e| problem(format!("{value:?}: {e}")))?;
    if let BfdSetting::Timers(t) = &setting {
        if t.authentication.is_some() {
            return Err(problem(format!(
                "authentication is not taken from an annotation (no place for a secret): \
                 name a Secret in {BFD_AUTH_ANNOTATION:?}"
            )));
        }
    }
    setting.check().map_err(problem)?;
    let Some(name) = auth_secret else {
        return Ok(Some(setting));
    };
    let Some(mut timers) = setting.timers() else {
        return Err(problem(format!(
            "BFD is off, yet {BFD_AUTH_ANNOTATION:?} names a Secret"
        )));
    };
    let auth = auth_from_secret(name, secret).map_err(|p| {
        (
            annotation_field(BFD_AUTH_ANNOTATION),
            format!("Secret {name:?}: {p}"),
        )
    })?;
    timers.authentication = Some(auth);
    Ok(Some(BfdSetting::Timers(timers)))
}

fn annotation_field(name: &str) -> String {
    format!("metadata.annotations[{name:?}]")
}

/// The authentication a Secret holds, read by the router's own deserializer (so names and
/// bounds are the router's).
fn auth_from_secret(
    name: &str,
    secret: &dyn Fn(&str, &str) -> Option<String>,
) -> Result<BfdAuth, String> {
    let password = secret(name, "password")
        .ok_or_else(|| "not found, or without a `password` key".to_string())?;
    let kind = secret(name, "type").unwrap_or_else(|| DEFAULT_AUTH_TYPE.into());
    let key_id = match secret(name, "key-id") {
        None => 1,
        Some(k) => k
            .trim()
            .parse::<u8>()
            .map_err(|_| format!("key-id {k:?}: must be a number of 0 to 255"))?,
    };
    let auth: BfdAuth = serde_json::from_value(serde_json::json!({
        "type": kind.trim(),
        "key-id": key_id,
        "password": password,
    }))
    .map_err(|e| format!("type {:?}: {e}", kind.trim()))?;
    auth.key().map_err(|e| format!("password: {e}"))?;
    Ok(auth)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn no_secret(_: &str, _: &str) -> Option<String> {
        None
    }

    fn of(v: &str) -> Result<Option<BfdSetting>, (String, String)> {
        let a = BTreeMap::from([(BFD_ANNOTATION.to_string(), v.to_string())]);
        from_annotations(Some(&a), &no_secret)
    }

    /// `bfd` and `bgplane.io/bfd-auth-secret: bfd-key`, with the Secret `bfd-key` of `data`.
    fn with_secret(
        bfd: Option<&str>,
        data: &[(&str, &str)],
    ) -> Result<Option<BfdSetting>, (String, String)> {
        let mut a = BTreeMap::from([(BFD_AUTH_ANNOTATION.to_string(), "bfd-key".to_string())]);
        if let Some(b) = bfd {
            a.insert(BFD_ANNOTATION.into(), b.into());
        }
        let data: BTreeMap<String, String> = data
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let secret = |name: &str, key: &str| {
            (name == "bfd-key")
                .then(|| data.get(key).cloned())
                .flatten()
        };
        from_annotations(Some(&a), &secret)
    }

    #[test]
    fn no_annotation_means_no_bfd_setting() {
        assert_eq!(from_annotations(None, &no_secret), Ok(None));
        assert_eq!(
            from_annotations(Some(&BTreeMap::new()), &no_secret),
            Ok(None)
        );
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

    #[test]
    fn an_auth_secret_adds_its_type_key_id_and_password_to_the_timers() {
        let t = with_secret(
            Some("{ transmit-interval: 100 }"),
            &[
                ("type", "keyed-md5"),
                ("key-id", "7"),
                ("password", "s3cret"),
            ],
        )
        .unwrap()
        .unwrap()
        .timers()
        .unwrap();
        assert_eq!(t.transmit_interval, 100);
        let a = t.authentication.unwrap();
        assert_eq!(
            (json!(a.kind), a.key_id, a.password.as_str()),
            (json!("keyed-md5"), 7, "s3cret")
        );
        // `true` with a Secret: the defaults, meticulous keyed SHA1 and key ID 1.
        let t = with_secret(Some("true"), &[("password", "s3cret")])
            .unwrap()
            .unwrap()
            .timers()
            .unwrap();
        assert_eq!((t.transmit_interval, t.detect_multiplier), (300, 3));
        let a = t.authentication.unwrap();
        assert_eq!(
            (json!(a.kind), a.key_id),
            (json!("meticulous-keyed-sha1"), 1)
        );
    }

    #[test]
    fn a_bad_auth_secret_names_the_annotation_the_secret_and_the_problem() {
        let field = "metadata.annotations[\"bgplane.io/bfd-auth-secret\"]";
        for (bfd, data, want_field, want) in [
            (
                Some("true"),
                &[][..],
                field,
                "Secret \"bfd-key\": not found, or without a `password` key",
            ),
            (
                Some("true"),
                &[("password", "x"), ("type", "md6")][..],
                field,
                "type \"md6\": unknown variant `md6`",
            ),
            (
                Some("true"),
                &[("password", "x"), ("key-id", "300")][..],
                field,
                "key-id \"300\": must be a number of 0 to 255",
            ),
            (
                Some("true"),
                &[("password", "a-password-longer-than-twenty-octets")][..],
                field,
                "password:",
            ),
            (
                None,
                &[("password", "x")][..],
                field,
                "set without \"bgplane.io/bfd\"",
            ),
            (
                Some("false"),
                &[("password", "x")][..],
                "metadata.annotations[\"bgplane.io/bfd\"]",
                "BFD is off",
            ),
        ] {
            let (f, problem) = with_secret(bfd, data).unwrap_err();
            assert_eq!(f, want_field, "{bfd:?} {data:?}");
            assert!(problem.contains(want), "{bfd:?} {data:?}: {problem}");
            assert!(!problem.contains("a-password"), "{problem}");
        }
    }
}
