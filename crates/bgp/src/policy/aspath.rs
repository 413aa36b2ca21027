//! AS-path regexes as FRR writes them, and the reused buffer they are matched against.
//!
//! FRR matches `as-path access-list` regexes against the AS path as it prints it: ASes of an
//! AS_SEQUENCE separated by spaces, an AS_SET as `{1,2}`, confederation segments as `(1 2)`
//! and `[1,2]`, e.g. `65001 65002 {3,4}`. The character `_` stands for a boundary: the
//! start or end of the path, a space, a comma, or a brace or parenthesis (FRR's
//! `(^|[,{}() ]|$)`; the square brackets of confederation sets are added here).

use std::cell::RefCell;
use std::fmt::Write as _;

use bgp_wire::{AsPath, SegmentType};
use regex::RegexSet;

use super::error::ErrorKind;

/// What `_` becomes.
const BOUNDARY: &str = r"(?:^|[,{}()\[\] ]|$)";

/// Rewrites an FRR-style AS-path regex into the `regex` crate's syntax: `_` outside a
/// bracket expression becomes [`BOUNDARY`]; `\_` is a literal underscore.
pub(crate) fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('_') => out.push('_'),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            },
            '_' => out.push_str(BOUNDARY),
            '[' => {
                // A bracket expression is copied as is; a `]` right after `[` or `[^` is
                // literal, as in POSIX.
                out.push('[');
                if let Some(&'^') = chars.peek() {
                    out.push('^');
                    chars.next();
                }
                if let Some(&']') = chars.peek() {
                    out.push_str(r"\]");
                    chars.next();
                }
                for n in chars.by_ref() {
                    out.push(n);
                    if n == ']' {
                        break;
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Compiles one regex alone, for a precise error.
pub(crate) fn check(pattern: &str) -> Result<(), ErrorKind> {
    let invalid = |reason: String| ErrorKind::InvalidRegex {
        pattern: pattern.to_string(),
        reason,
    };
    if pattern.is_empty() {
        return Err(invalid(
            "empty (write \".*\" to match every path, \"^$\" for the empty path)".into(),
        ));
    }
    regex::Regex::new(&translate(pattern))
        .map(drop)
        .map_err(|e| invalid(reason(&e)))
}

/// The last line of a regex error (the `error: …` part), without the pattern echo whose
/// caret would point into the translated text.
pub(crate) fn reason(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().last().unwrap_or("").trim();
    last.strip_prefix("error: ").unwrap_or(last).to_string()
}

/// A compiled AS-path list: matches when any of its regexes does.
#[derive(Debug, Clone)]
pub struct AsPathList {
    set: RegexSet,
}

impl AsPathList {
    /// Compiles already [`check`]ed patterns.
    pub(crate) fn new(patterns: &[String]) -> Result<Self, regex::Error> {
        Ok(AsPathList {
            set: RegexSet::new(patterns.iter().map(|p| translate(p)))?,
        })
    }

    /// Whether a regex of the list matches the AS path text (see [`render`]).
    pub fn is_match(&self, path_text: &str) -> bool {
        self.set.is_match(path_text)
    }
}

/// Writes the AS path as FRR prints it into `out` (cleared first): segments separated by a
/// space, an AS_SEQUENCE as `1 2`, an AS_SET as `{1,2}`, an AS_CONFED_SEQUENCE as `(1 2)`, an
/// AS_CONFED_SET as `[1,2]`.
pub fn render(path: &AsPath, out: &mut String) {
    out.clear();
    for (i, seg) in path.segments.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let (open, sep, close) = match seg.kind {
            SegmentType::Sequence => ("", ' ', ""),
            SegmentType::Set => ("{", ',', "}"),
            SegmentType::ConfedSequence => ("(", ' ', ")"),
            SegmentType::ConfedSet => ("[", ',', "]"),
        };
        out.push_str(open);
        for (j, asn) in seg.asns.iter().enumerate() {
            if j > 0 {
                out.push(sep);
            }
            // Writing into a String cannot fail.
            let _ = write!(out, "{asn}");
        }
        out.push_str(close);
    }
}

thread_local! {
    /// The text of the AS path being matched, reused so that matching does not allocate.
    static TEXT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Runs `f` with this thread's reusable text buffer (a fresh one if it is in use or gone).
pub(crate) fn with_buffer<R>(mut f: impl FnMut(&mut String) -> R) -> R {
    let reused = TEXT.try_with(|cell| cell.try_borrow_mut().ok().map(|mut buf| f(&mut buf)));
    match reused {
        Ok(Some(r)) => r,
        _ => f(&mut String::new()),
    }
}
