//! Conflicted-copy names.
//!
//! `report (conflicted copy laptop 2026-05-01T101500Z).txt`: unambiguous to
//! parse, names the device, and has no character Windows forbids. A copy of
//! a copy does not nest tags: an existing tag is replaced (rightmost wins).

use time::OffsetDateTime;
use time::macros::format_description;

use nimbus_protocol::names::{
    CONFLICT_TAG, conflict_original, split_extension, strip_conflict_tag,
};

/// A device name made safe to put in a file name.
fn sanitize_device(device: &str) -> String {
    let cleaned: String = device
        .chars()
        .map(|c| match c {
            '(' | ')' | '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() {
        "device".to_owned()
    } else {
        trimmed.chars().take(40).collect()
    }
}

/// The UTC timestamp used in tags: `2026-05-01T101500Z`.
pub fn timestamp(now_ms: i64) -> String {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    at.format(format_description!(
        "[year]-[month]-[day]T[hour][minute][second]Z"
    ))
    .unwrap_or_else(|_| "0000-00-00T000000Z".into())
}

/// The conflicted-copy name of `name`; `attempt` > 0 adds a counter for the
/// rare case that the name is taken too.
pub fn conflicted_copy_name(name: &str, device: &str, now_ms: i64, attempt: u32) -> String {
    let (stem, ext) = split_extension(name);
    let stem = strip_conflict_tag(stem);
    let counter = if attempt == 0 {
        String::new()
    } else {
        format!(" {}", attempt + 1)
    };
    let tag = format!(
        "{CONFLICT_TAG}{} {}{counter})",
        sanitize_device(device),
        timestamp(now_ms)
    );
    // Keep within the 255-byte limit by shortening the stem.
    let budget = nimbus_protocol::names::MAX_NAME_BYTES.saturating_sub(tag.len() + ext.len());
    let mut stem_cut = String::new();
    for c in stem.chars() {
        if stem_cut.len() + c.len_utf8() > budget {
            break;
        }
        stem_cut.push(c);
    }
    format!("{stem_cut}{tag}{ext}")
}

/// Whether `name` carries a conflicted-copy tag.
pub fn is_conflicted_copy(name: &str) -> bool {
    conflict_original(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAY_1: i64 = 1_777_631_700_000; // 2026-05-01T10:35:00Z

    #[test]
    fn tags_name_the_device_and_time() {
        assert_eq!(
            conflicted_copy_name("report.txt", "laptop", MAY_1, 0),
            "report (conflicted copy laptop 2026-05-01T103500Z).txt"
        );
        assert_eq!(
            conflicted_copy_name(".bashrc", "my (old) pc", MAY_1, 0),
            ".bashrc (conflicted copy my _old_ pc 2026-05-01T103500Z)"
        );
        assert_eq!(
            conflicted_copy_name("archive.tar.gz", "pc", MAY_1, 1),
            "archive.tar (conflicted copy pc 2026-05-01T103500Z 2).gz"
        );
    }

    #[test]
    fn a_copy_of_a_copy_does_not_nest() {
        let first = conflicted_copy_name("notes.md", "laptop", MAY_1, 0);
        let second = conflicted_copy_name(&first, "desktop", MAY_1 + 60_000, 0);
        assert_eq!(
            second,
            "notes (conflicted copy desktop 2026-05-01T103600Z).md"
        );
        assert!(is_conflicted_copy(&second));
        assert!(!is_conflicted_copy("notes (draft).md"));
    }

    #[test]
    fn long_names_stay_valid() {
        let long = format!("{}.txt", "é".repeat(127));
        let copy = conflicted_copy_name(&long, "laptop", MAY_1, 0);
        assert!(
            nimbus_protocol::names::validate_name(&copy).is_ok(),
            "{copy}"
        );
        assert!(copy.ends_with("Z).txt"));
    }
}
