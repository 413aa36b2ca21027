//! A YAML document tree that remembers where every value came from.
//!
//! The containerlab and kind files are parsed into this tree first (with `yaml-rust2`'s event
//! parser, which reports line and column for each event), so every schema error can name the
//! file, the line and the dotted key path of the offending value.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::TopoError;

/// Where a value is: file, 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loc {
    /// The file the value was read from.
    pub file: Arc<PathBuf>,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// One YAML value with its location and its dotted key path from the document root.
#[derive(Clone, Debug)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it starts.
    pub loc: Loc,
    /// Dotted path, e.g. `topology.nodes.router0.exec[2]`.
    pub path: String,
}

/// The value of a [`Node`].
#[derive(Clone, Debug)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// Any scalar, as written (quoted scalars are never null).
    Scalar(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order; keys are scalars.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Scalar(_) => "a scalar",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    /// True for `null`.
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The error "`path` must be …".
    pub fn type_error(&self, expected: &str) -> TopoError {
        TopoError::Type {
            loc: self.loc.clone(),
            key: self.path.clone(),
            expected: expected.to_string(),
            found: self.type_name(),
        }
    }

    /// An error about this value's content.
    pub fn invalid(&self, msg: impl Into<String>) -> TopoError {
        TopoError::Invalid {
            loc: self.loc.clone(),
            key: self.path.clone(),
            msg: msg.into(),
        }
    }

    /// The scalar as a string (numbers and booleans as written).
    pub fn as_str(&self) -> Result<&str, TopoError> {
        match &self.value {
            Value::Scalar(s) => Ok(s),
            _ => Err(self.type_error("a string")),
        }
    }

    /// The scalar as an owned string, or `None` for null.
    pub fn opt_string(&self) -> Result<Option<String>, TopoError> {
        match &self.value {
            Value::Null => Ok(None),
            Value::Scalar(s) => Ok(Some(s.clone())),
            _ => Err(self.type_error("a string")),
        }
    }

    /// The scalar as an unsigned integer.
    pub fn as_u64(&self) -> Result<u64, TopoError> {
        let s = self.as_str()?;
        s.parse::<u64>()
            .map_err(|_| self.invalid(format!("`{s}` is not a non-negative integer")))
    }

    /// The scalar as a boolean (YAML 1.2 `true`/`false`, any case).
    pub fn as_bool(&self) -> Result<bool, TopoError> {
        match self.as_str()?.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Ok(true),
            "false" | "no" | "off" => Ok(false),
            other => Err(self.invalid(format!("`{other}` is not a boolean"))),
        }
    }

    /// The entries of a mapping (null counts as empty).
    pub fn as_map(&self) -> Result<&[(Node, Node)], TopoError> {
        match &self.value {
            Value::Map(m) => Ok(m),
            Value::Null => Ok(&[]),
            _ => Err(self.type_error("a mapping")),
        }
    }

    /// The items of a sequence (null counts as empty).
    pub fn as_seq(&self) -> Result<&[Node], TopoError> {
        match &self.value {
            Value::Seq(s) => Ok(s),
            Value::Null => Ok(&[]),
            _ => Err(self.type_error("a list")),
        }
    }

    /// A list of strings; a single scalar counts as a one-item list.
    pub fn string_list(&self) -> Result<Vec<String>, TopoError> {
        match &self.value {
            Value::Scalar(s) => Ok(vec![s.clone()]),
            _ => self
                .as_seq()?
                .iter()
                .map(|n| n.as_str().map(str::to_string))
                .collect(),
        }
    }

    /// A mapping of scalar to scalar (labels, env, sysctls).
    pub fn string_map(&self) -> Result<Vec<(String, String)>, TopoError> {
        self.as_map()?
            .iter()
            .map(|(k, v)| {
                let val = match &v.value {
                    Value::Null => String::new(),
                    Value::Scalar(s) => s.clone(),
                    _ => return Err(v.type_error("a string")),
                };
                Ok((k.as_str()?.to_string(), val))
            })
            .collect()
    }

    /// Checks that a mapping has only the given keys; unknown keys are errors naming the
    /// closest allowed key.
    pub fn check_keys(&self, allowed: &[&str]) -> Result<(), TopoError> {
        for (k, _) in self.as_map()? {
            let key = k.as_str()?;
            if !allowed.contains(&key) {
                return Err(TopoError::UnknownKey {
                    loc: k.loc.clone(),
                    key: k.path.clone(),
                    hint: closest(key, allowed)
                        .map(|c| format!(" (did you mean `{c}`?)"))
                        .unwrap_or_default(),
                });
            }
        }
        Ok(())
    }

    /// The value under `key` of a mapping, if present.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(m) => m
                .iter()
                .find(|(k, _)| matches!(&k.value, Value::Scalar(s) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value under `key`, or an error naming the mapping if it is missing.
    pub fn require(&self, key: &str) -> Result<&Node, TopoError> {
        self.get(key).ok_or_else(|| TopoError::Missing {
            loc: self.loc.clone(),
            key: join(&self.path, key),
        })
    }
}

/// `a.b` + `c` = `a.b.c`; the root has an empty path.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The allowed key nearest to a misspelt one (edit distance at most 2).
fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (levenshtein(key, a), *a))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Parses a YAML document. `line_offset` shifts reported lines (for documents embedded in a
/// block scalar of another file); `root_path` prefixes key paths.
pub fn parse_str(
    text: &str,
    file: &Path,
    line_offset: usize,
    root_path: &str,
) -> Result<Node, TopoError> {
    parse_embedded(text, file, (line_offset, 0), root_path)
}

/// Parses a document embedded in a block scalar of another file: `offset` is (lines,
/// columns) of the scalar's first character minus one.
pub fn parse_embedded(
    text: &str,
    file: &Path,
    offset: (usize, usize),
    root_path: &str,
) -> Result<Node, TopoError> {
    let (line_offset, col_offset) = offset;
    let file = Arc::new(file.to_path_buf());
    let mut builder = Builder {
        file: file.clone(),
        line_offset,
        col_offset,
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        error: None,
        root_path: root_path.to_string(),
    };
    let mut parser = Parser::new_from_str(text);
    parser
        .load(&mut builder, false)
        .map_err(|e| TopoError::Syntax {
            loc: Loc {
                file: file.clone(),
                line: e.marker().line() + line_offset,
                col: e.marker().col() + 1 + col_offset,
            },
            msg: e.info().to_string(),
        })?;
    if let Some(e) = builder.error {
        return Err(e);
    }
    Ok(builder.root.unwrap_or(Node {
        value: Value::Null,
        loc: Loc {
            file,
            line: 1 + line_offset,
            col: 1 + col_offset,
        },
        path: root_path.to_string(),
    }))
}

enum Frame {
    Seq(Node, usize),
    /// Mapping, anchor, pending key, entries from merge keys (`<<`), added at the end
    /// unless the mapping defines the key itself.
    Map(Node, usize, Option<Node>, Vec<(Node, Node)>),
}

struct Builder {
    file: Arc<PathBuf>,
    line_offset: usize,
    col_offset: usize,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    error: Option<TopoError>,
    root_path: String,
}

impl Builder {
    fn loc(&self, m: Marker) -> Loc {
        Loc {
            file: self.file.clone(),
            line: m.line() + self.line_offset,
            col: m.col() + 1 + self.col_offset,
        }
    }

    /// The path the next value will have.
    fn next_path(&self) -> String {
        match self.stack.last() {
            None => self.root_path.clone(),
            Some(Frame::Seq(n, _)) => format!("{}[{}]", n.path, seq_len(n)),
            Some(Frame::Map(n, _, Some(k), _)) => join(&n.path, k.as_str().unwrap_or("?")),
            // A key: its path is the mapping's path plus the key text (set when it lands).
            Some(Frame::Map(n, _, None, _)) => n.path.clone(),
        }
    }

    fn push_value(&mut self, mut node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq(seq, _)) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Frame::Map(map, _, pending, merged)) => match pending.take() {
                None => {
                    // The node is a key; give it the key's own path.
                    if let Value::Scalar(s) = &node.value {
                        node.path = join(&map.path, s);
                    }
                    // A block mapping's start is reported after its first key: use the key's.
                    let first =
                        matches!(&map.value, Value::Map(e) if e.is_empty()) && merged.is_empty();
                    if first && node.loc.line == map.loc.line && node.loc.col < map.loc.col {
                        map.loc = node.loc.clone();
                    }
                    *pending = Some(node);
                }
                Some(key) => {
                    if let Value::Map(entries) = &mut map.value {
                        let is_merge = matches!(&key.value, Value::Scalar(s) if s == "<<");
                        if is_merge {
                            merge_into(merged, &node);
                        } else if entries.iter().any(|(k, _)| same_key(k, &key)) {
                            self.error = Some(TopoError::Invalid {
                                loc: key.loc.clone(),
                                key: key.path.clone(),
                                msg: "duplicate key".into(),
                            });
                        } else {
                            entries.push((key, node));
                        }
                    }
                }
            },
        }
    }
}

fn same_key(a: &Node, b: &Node) -> bool {
    matches!((&a.value, &b.value), (Value::Scalar(x), Value::Scalar(y)) if x == y)
}

fn seq_len(n: &Node) -> usize {
    match &n.value {
        Value::Seq(s) => s.len(),
        _ => 0,
    }
}

/// YAML merge key (`<<: *anchor`): copies entries that the mapping does not define itself.
fn merge_into(entries: &mut Vec<(Node, Node)>, src: &Node) {
    let sources: Vec<&Node> = match &src.value {
        Value::Seq(items) => items.iter().collect(),
        _ => vec![src],
    };
    for s in sources {
        if let Value::Map(m) = &s.value {
            for (k, v) in m {
                if !entries.iter().any(|(ek, _)| same_key(ek, k)) {
                    entries.push((k.clone(), v.clone()));
                }
            }
        }
    }
}

/// Re-roots a copied (aliased) subtree's paths under a new path.
fn repath(node: &mut Node, path: &str) {
    node.path = path.to_string();
    match &mut node.value {
        Value::Seq(items) => {
            for (i, it) in items.iter_mut().enumerate() {
                repath(it, &format!("{path}[{i}]"));
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                let kp = join(path, k.as_str().unwrap_or("?"));
                k.path = kp.clone();
                repath(v, &kp);
            }
        }
        _ => {}
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let loc = self.loc(mark);
        match ev {
            Event::Scalar(s, style, anchor, _tag) => {
                let null = style == TScalarStyle::Plain
                    && matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL");
                let path = self.next_path();
                let value = if null { Value::Null } else { Value::Scalar(s) };
                self.push_value(Node { value, loc, path }, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                let path = self.next_path();
                self.stack.push(Frame::Seq(
                    Node {
                        value: Value::Seq(Vec::new()),
                        loc,
                        path,
                    },
                    anchor,
                ));
            }
            Event::MappingStart(anchor, _) => {
                let path = self.next_path();
                self.stack.push(Frame::Map(
                    Node {
                        value: Value::Map(Vec::new()),
                        loc,
                        path,
                    },
                    anchor,
                    None,
                    Vec::new(),
                ));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(frame) = self.stack.pop() {
                    let (node, anchor) = match frame {
                        Frame::Seq(n, a) => (n, a),
                        Frame::Map(mut n, a, _, merged) => {
                            if let Value::Map(entries) = &mut n.value {
                                for (k, v) in merged {
                                    if !entries.iter().any(|(ek, _)| same_key(ek, &k)) {
                                        entries.push((k, v));
                                    }
                                }
                            }
                            (n, a)
                        }
                    };
                    self.push_value(node, anchor);
                }
            }
            Event::Alias(id) => {
                let path = self.next_path();
                match self.anchors.get(&id) {
                    Some(n) => {
                        let mut copy = n.clone();
                        repath(&mut copy, &path);
                        self.push_value(copy, 0);
                    }
                    None => {
                        self.error = Some(TopoError::Invalid {
                            loc,
                            key: path,
                            msg: "alias refers to an unknown anchor".into(),
                        })
                    }
                }
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_lines() {
        let doc = "a:\n  b: [1, 2]\n  c:\n    - x: 1\n      y: ~\n";
        let n = parse_str(doc, Path::new("t.yaml"), 0, "").unwrap();
        let b = n.get("a").unwrap().get("b").unwrap();
        assert_eq!(b.path, "a.b");
        assert_eq!(b.loc.line, 2);
        let items = b.as_seq().unwrap();
        assert_eq!(items[1].path, "a.b[1]");
        let c0 = &n.get("a").unwrap().get("c").unwrap().as_seq().unwrap()[0];
        assert_eq!(c0.get("x").unwrap().path, "a.c[0].x");
        assert_eq!(c0.get("x").unwrap().loc.line, 4);
        assert!(c0.get("y").unwrap().is_null());
        assert_eq!(c0.get("y").unwrap().loc.line, 5);
    }

    #[test]
    fn anchors_and_merge() {
        let doc = "base: &b\n  kind: linux\n  image: x\nn:\n  <<: *b\n  image: y\nm: *b\n";
        let n = parse_str(doc, Path::new("t.yaml"), 0, "").unwrap();
        let nn = n.get("n").unwrap();
        assert_eq!(nn.get("image").unwrap().as_str().unwrap(), "y");
        assert_eq!(nn.get("kind").unwrap().as_str().unwrap(), "linux");
        assert_eq!(n.get("m").unwrap().get("kind").unwrap().path, "m.kind");
    }

    #[test]
    fn syntax_error_has_line() {
        let err = parse_str("a: [1, 2\nb: 3\n", Path::new("bad.yaml"), 10, "").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("bad.yaml:1"), "{msg}");
    }

    #[test]
    fn unknown_key_suggests() {
        let n = parse_str("nodse: {}\n", Path::new("t.yaml"), 0, "").unwrap();
        let msg = n.check_keys(&["nodes", "links"]).unwrap_err().to_string();
        assert!(msg.contains("t.yaml:1:1"), "{msg}");
        assert!(msg.contains("`nodse`"), "{msg}");
        assert!(msg.contains("did you mean `nodes`"), "{msg}");
    }
}
