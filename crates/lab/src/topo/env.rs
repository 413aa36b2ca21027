//! Environment variable expansion (`${VAR}`, `${VAR:=default}`, `${VAR:-default}`), done on
//! the topology text before parsing as containerlab does, and the per-node magic variables
//! (`__clabNodeName__`, `__clabNodeDir__`, `__clabDir__`, …).

/// Expands `${NAME}`, `${NAME:=default}` and `${NAME:-default}` with `lookup`; unset
/// variables without a default become empty. Anything else (including `$NAME` without
/// braces, which shell lines in `exec:` use) is left alone.
pub fn expand_env(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = &after[..end];
        let (name, default) = match inner.find(":=").or_else(|| inner.find(":-")) {
            Some(i) => (&inner[..i], Some(&inner[i + 2..])),
            None => (inner, None),
        };
        if is_var_name(name) {
            match lookup(name).filter(|v| !v.is_empty() || default.is_none()) {
                Some(v) => out.push_str(&v),
                None => out.push_str(default.unwrap_or("")),
            }
        } else {
            out.push_str(&rest[start..start + 2 + end + 1]);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn is_var_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The magic variables of one node.
#[derive(Clone, Debug)]
pub struct Magic<'a> {
    /// Node name (`__clabNodeName__`).
    pub node: &'a str,
    /// The node's directory (`__clabNodeDir__`).
    pub node_dir: &'a str,
    /// The lab directory (`__clabDir__`).
    pub lab_dir: &'a str,
    /// The lab name (`__clabLabName__`, a bgplane addition).
    pub lab: &'a str,
}

impl Magic<'_> {
    /// Replaces the magic variables in `s`.
    pub fn apply(&self, s: &str) -> String {
        s.replace("__clabNodeName__", self.node)
            .replace("__clabNodeDir__", self.node_dir)
            .replace("__clabDir__", self.lab_dir)
            .replace("__clabLabName__", self.lab)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "IMG" => Some("frrouting/frr:v8.4.0".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn expands_braced_forms_only() {
        assert_eq!(
            expand_env("image: ${IMG}", &env),
            "image: frrouting/frr:v8.4.0"
        );
        assert_eq!(expand_env("x: ${NOPE:=a/b}", &env), "x: a/b");
        assert_eq!(expand_env("x: ${EMPTY:-d}", &env), "x: d");
        assert_eq!(expand_env("x: ${EMPTY}", &env), "x: ");
        assert_eq!(expand_env("x: ${NOPE}.", &env), "x: .");
        assert_eq!(
            expand_env("awk '{print $1}' ${1x}", &env),
            "awk '{print $1}' ${1x}"
        );
        assert_eq!(expand_env("open ${", &env), "open ${");
    }

    #[test]
    fn magic_variables() {
        let m = Magic {
            node: "r1",
            node_dir: "/l/r1",
            lab_dir: "/l",
            lab: "demo",
        };
        assert_eq!(
            m.apply("__clabNodeDir__/frr.conf:/etc/frr/frr.conf __clabNodeName__ __clabDir__"),
            "/l/r1/frr.conf:/etc/frr/frr.conf r1 /l"
        );
    }
}
