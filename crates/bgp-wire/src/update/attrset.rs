//! Checks of optional attributes the codec keeps as bytes but RFC 7606 gives rules for:
//! Traffic Engineering (§7.13) and ATTR_SET (§7.16). A malformed one makes its UPDATE
//! treat-as-withdraw. RFC 6368 §5 calls an ATTR_SET malformed when it is shorter than its
//! 4-octet Origin AS, carries MP_REACH_NLRI or MP_UNREACH_NLRI, or carries attributes that
//! are malformed themselves.

use super::attr::{code, flags};
use super::error::{AttrSetError, IssueKind};

/// What is wrong with the value of an attribute the codec does not interpret, if RFC 7606
/// has a rule for it (the caller applies treat-as-withdraw).
pub(crate) fn other_attribute_issue(t: u8, value: &[u8]) -> Option<IssueKind> {
    match t {
        // RFC 5543 §3: switching capability, encoding, reserved, and eight 4-octet maximum
        // LSP bandwidths come first (36 octets); RFC 7606 §7.13.
        code::TRAFFIC_ENGINEERING => {
            (value.len() < 36).then_some(IssueKind::Length(value.len() as u16))
        }
        // RFC 7606 §7.16 (RFC 6368 §5).
        code::ATTR_SET => check(value).err().map(IssueKind::MalformedAttrSet),
        _ => None,
    }
}

/// How deep ATTR_SETs may nest before the value is refused (bounds the recursion).
const MAX_DEPTH: usize = 4;

/// Checks an ATTR_SET value: the Origin AS, then whole path attributes, none of them
/// MP_REACH_NLRI or MP_UNREACH_NLRI, each with a valid length for its type.
pub(crate) fn check(v: &[u8]) -> Result<(), AttrSetError> {
    check_at(v, 0)
}

fn check_at(v: &[u8], depth: usize) -> Result<(), AttrSetError> {
    let mut rest = v.get(4..).ok_or(AttrSetError::Short)?;
    while !rest.is_empty() {
        let ext = rest[0] & flags::EXTENDED_LENGTH != 0;
        let hdr = if ext { 4 } else { 3 };
        let head = rest.get(..hdr).ok_or(AttrSetError::InnerOverrun)?;
        let t = head[1];
        let len = if ext {
            usize::from(u16::from_be_bytes([head[2], head[3]]))
        } else {
            usize::from(head[2])
        };
        let value = rest.get(hdr..hdr + len).ok_or(AttrSetError::InnerOverrun)?;
        let ok = match t {
            code::MP_REACH_NLRI | code::MP_UNREACH_NLRI => return Err(AttrSetError::Mp(t)),
            code::ORIGIN => matches!(value, [0..=2]),
            code::NEXT_HOP | code::MULTI_EXIT_DISC | code::LOCAL_PREF | code::ORIGINATOR_ID => {
                len == 4
            }
            code::ATOMIC_AGGREGATE => len == 0,
            code::COMMUNITIES | code::CLUSTER_LIST => len != 0 && len % 4 == 0,
            code::EXTENDED_COMMUNITIES => len != 0 && len % 8 == 0,
            code::LARGE_COMMUNITIES => len != 0 && len % 12 == 0,
            code::ATTR_SET => depth < MAX_DEPTH && check_at(value, depth + 1).is_ok(),
            _ => true,
        };
        if !ok {
            return Err(AttrSetError::Inner(t));
        }
        rest = &rest[hdr + len..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(fl: u8, t: u8, v: &[u8]) -> Vec<u8> {
        let mut a = vec![fl, t, v.len() as u8];
        a.extend_from_slice(v);
        a
    }

    #[test]
    fn an_origin_as_with_well_formed_attributes_is_accepted() {
        let mut v = 65001u32.to_be_bytes().to_vec();
        v.extend(attr(0x40, code::ORIGIN, &[0]));
        v.extend(attr(0x40, code::LOCAL_PREF, &[0, 0, 0, 100]));
        v.extend(attr(0xc0, code::COMMUNITIES, &[0xfd, 0xe9, 0, 1]));
        assert_eq!(check(&v), Ok(()));
        assert_eq!(check(&65001u32.to_be_bytes()), Ok(()));
    }

    #[test]
    fn each_malformation_of_rfc_6368_section_5_is_named() {
        assert_eq!(check(&[0, 0, 1]), Err(AttrSetError::Short));
        let mut v = 65001u32.to_be_bytes().to_vec();
        v.extend(attr(0x80, code::MP_REACH_NLRI, &[0, 1, 1, 0, 0]));
        assert_eq!(check(&v), Err(AttrSetError::Mp(code::MP_REACH_NLRI)));
        let mut v = 65001u32.to_be_bytes().to_vec();
        v.extend(attr(0x40, code::LOCAL_PREF, &[0, 100]));
        assert_eq!(check(&v), Err(AttrSetError::Inner(code::LOCAL_PREF)));
        let mut v = 65001u32.to_be_bytes().to_vec();
        v.extend([0x40, code::ORIGIN, 5, 0]);
        assert_eq!(check(&v), Err(AttrSetError::InnerOverrun));
    }

    #[test]
    fn nesting_is_bounded() {
        let mut v = 1u32.to_be_bytes().to_vec();
        for _ in 0..8 {
            let mut outer = 1u32.to_be_bytes().to_vec();
            outer.extend(attr(0xc0, code::ATTR_SET, &v));
            v = outer;
        }
        assert_eq!(check(&v), Err(AttrSetError::Inner(code::ATTR_SET)));
    }
}
