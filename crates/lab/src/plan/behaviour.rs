//! What a node *does*, from its `kind` and `image`: there are no images here, so an image
//! name maps to a behaviour built from the host's own software.

use serde::{Deserialize, Serialize};

/// How a node runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum Behaviour {
    /// A plain host with the host's tools (netshoot, alpine, unknown images, `kind: linux`).
    Host,
    /// FRR from the Debian package, private `/etc/frr`; `autostart` starts it at deploy (as
    /// the frr image's default command or `kind: frr` does).
    Frr {
        /// Start FRR before the exec lines.
        autostart: bool,
    },
    /// BIRD 2 from the Debian package, private `/etc/bird`.
    Bird {
        /// Start BIRD before the exec lines.
        autostart: bool,
    },
    /// `bgplane router` with the node's startup-config.
    Bgplane,
    /// A Linux bridge in the lab namespace.
    Bridge,
    /// A Kubernetes node of the kind cluster (a host, until the agent runs on it).
    ClusterNode,
}

impl Behaviour {
    /// Short description for tables.
    pub fn describe(&self) -> &'static str {
        match self {
            Behaviour::Host => "host",
            Behaviour::Frr { .. } => "frr (debian)",
            Behaviour::Bird { .. } => "bird2 (debian)",
            Behaviour::Bgplane => "bgplane router",
            Behaviour::Bridge => "bridge",
            Behaviour::ClusterNode => "k8s node",
        }
    }

    /// True for nodes that run in their own processes (everything but bridges).
    pub fn has_processes(&self) -> bool {
        !matches!(self, Behaviour::Bridge)
    }
}

/// Why a node cannot be mapped.
#[derive(Debug, PartialEq, Eq)]
pub enum Unmappable {
    /// A containerlab kind bgplane does not emulate.
    Kind(String),
    /// A VyOS image: there is no VyOS here.
    Vyos(String),
}

/// The kinds bgplane accepts.
pub const KINDS: &[&str] = &["linux", "bridge", "frr", "bird", "bgplane", "ext-container"];

/// Maps `kind` + `image` (+ whether `cmd` is set) to a behaviour.
pub fn behaviour_for(
    kind: &str,
    image: Option<&str>,
    has_cmd: bool,
) -> Result<Behaviour, Unmappable> {
    match kind {
        "bridge" => Ok(Behaviour::Bridge),
        "frr" => Ok(Behaviour::Frr { autostart: true }),
        "bird" => Ok(Behaviour::Bird { autostart: true }),
        "bgplane" => Ok(Behaviour::Bgplane),
        "linux" | "ext-container" => {
            let Some(img) = image else {
                return Ok(Behaviour::Host);
            };
            let repo = image_repo(img);
            if repo.ends_with("frrouting/frr") || repo == "frr" || repo.ends_with("/frr") {
                // The frr image's default command starts FRR; an explicit cmd replaces it.
                Ok(Behaviour::Frr {
                    autostart: !has_cmd,
                })
            } else if repo.contains("bird") {
                Ok(Behaviour::Bird {
                    autostart: !has_cmd,
                })
            } else if repo.contains("vyos") {
                Err(Unmappable::Vyos(img.to_string()))
            } else {
                Ok(Behaviour::Host)
            }
        }
        other => Err(Unmappable::Kind(other.to_string())),
    }
}

/// `quay.io/frrouting/frr:v8.2.2` → `quay.io/frrouting/frr` (tag and digest removed).
pub fn image_repo(image: &str) -> String {
    let no_digest = image.split('@').next().unwrap_or(image);
    // A tag is a `:` after the last `/` (a registry may have a port).
    match no_digest.rfind(':') {
        Some(i) if !no_digest[i..].contains('/') => no_digest[..i].to_ascii_lowercase(),
        _ => no_digest.to_ascii_lowercase(),
    }
}

/// Whether a `cmd:` is only the image's idle command (an interactive shell, or an init
/// system), which the node supervisor replaces.
pub fn is_idle_cmd(cmd: &str) -> bool {
    let first = cmd.split_whitespace().next().unwrap_or("");
    let base = first.rsplit('/').next().unwrap_or(first);
    matches!(
        base,
        "bash" | "sh" | "ash" | "zsh" | "dash" | "init" | "systemd" | "tini"
    ) && cmd.split_whitespace().count() == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_map_to_behaviours() {
        assert_eq!(
            behaviour_for("linux", Some("frrouting/frr:v8.2.2"), true),
            Ok(Behaviour::Frr { autostart: false })
        );
        assert_eq!(
            behaviour_for("linux", Some("quay.io/frrouting/frr:9.1.0"), false),
            Ok(Behaviour::Frr { autostart: true })
        );
        assert_eq!(
            behaviour_for("linux", Some("nicolaka/netshoot:latest"), false),
            Ok(Behaviour::Host)
        );
        assert_eq!(
            behaviour_for("linux", Some("localhost:5000/netshoot"), false),
            Ok(Behaviour::Host)
        );
        assert_eq!(behaviour_for("bridge", None, false), Ok(Behaviour::Bridge));
        assert_eq!(
            behaviour_for(
                "linux",
                Some("hihihiai/vyos:1.5-stream-2025-Q1-generic-amd64"),
                true
            ),
            Err(Unmappable::Vyos(
                "hihihiai/vyos:1.5-stream-2025-Q1-generic-amd64".into()
            ))
        );
        assert_eq!(
            behaviour_for("nokia_srlinux", None, false),
            Err(Unmappable::Kind("nokia_srlinux".into()))
        );
    }

    #[test]
    fn idle_commands() {
        assert!(is_idle_cmd("bash"));
        assert!(is_idle_cmd("/sbin/init"));
        assert!(!is_idle_cmd("sleep infinity"));
        assert!(!is_idle_cmd("bash -c 'ip a'"));
    }
}
