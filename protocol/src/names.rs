//! Validation of everything that names a thing: item names, chunk ids and
//! content hashes.
//!
//! A name that crosses an interface is checked here, by the sender and again by
//! the receiver. The rules are the intersection of what the common file systems
//! accept, minus what would let a name escape its folder.

use thiserror::Error;

/// Longest item name in bytes (the usual `NAME_MAX` of Linux and macOS).
pub const MAX_NAME_BYTES: usize = 255;

/// Why a name was refused. The text says what to change.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("a name cannot be empty")]
    Empty,
    #[error("a name is at most {MAX_NAME_BYTES} bytes long, this one has {0}")]
    TooLong(usize),
    #[error("\".\" and \"..\" are not allowed as names")]
    DotName,
    #[error("a name cannot contain \"/\"; folders are separate items")]
    Slash,
    #[error("a name cannot contain control characters (NUL, newline, ...)")]
    ControlCharacter,
}

/// Checks one path component: a file or folder name within its parent folder.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong(name.len()));
    }
    if name == "." || name == ".." {
        return Err(NameError::DotName);
    }
    if name.contains('/') {
        return Err(NameError::Slash);
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    Ok(())
}

/// A chunk id is a keyed BLAKE3 hash: 64 lowercase hexadecimal digits.
pub fn is_valid_chunk_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Longest content hash accepted, `algorithm:hex` (e.g. `blake3:` + 64 digits).
pub const MAX_CONTENT_HASH_LEN: usize = 140;

/// A content hash is `algorithm:hex`, with a short lowercase algorithm name.
pub fn is_valid_content_hash(hash: &str) -> bool {
    let Some((algorithm, digest)) = hash.split_once(':') else {
        return false;
    };
    hash.len() <= MAX_CONTENT_HASH_LEN
        && !algorithm.is_empty()
        && algorithm.len() <= 16
        && algorithm
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !digest.is_empty()
        && digest.len() % 2 == 0
        && digest
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// What marks a conflicted copy, e.g. `report (conflicted copy laptop
/// 2026-05-01T101500Z).txt`: desktop clients name the copy they keep of a
/// losing change this way, and the web UI lists such copies.
pub const CONFLICT_TAG: &str = " (conflicted copy ";

/// Splits `name` into stem and extension (`.ext` with the dot, or empty).
/// A leading dot is part of the stem (`.bashrc` has no extension).
pub fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(0) | None => (name, ""),
        Some(dot) => (&name[..dot], &name[dot..]),
    }
}

/// The stem without a trailing conflicted-copy tag.
pub fn strip_conflict_tag(stem: &str) -> &str {
    if stem.ends_with(')')
        && let Some(start) = stem.rfind(CONFLICT_TAG)
    {
        return &stem[..start];
    }
    stem
}

/// The name of the file a conflicted copy was made of, or `None` when
/// `name` is not a conflicted copy.
pub fn conflict_original(name: &str) -> Option<String> {
    let (stem, extension) = split_extension(name);
    let original = strip_conflict_tag(stem);
    (original.len() != stem.len()).then(|| format!("{original}{extension}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass() {
        for name in [
            "a",
            "report.pdf",
            "Ünïcødé 名前 🎉",
            ".hidden",
            "a b",
            "...",
        ] {
            assert_eq!(validate_name(name), Ok(()), "{name:?}");
        }
    }

    #[test]
    fn escaping_and_odd_names_are_refused() {
        assert_eq!(validate_name(""), Err(NameError::Empty));
        assert_eq!(validate_name("."), Err(NameError::DotName));
        assert_eq!(validate_name(".."), Err(NameError::DotName));
        assert_eq!(validate_name("../etc"), Err(NameError::Slash));
        assert_eq!(validate_name("a/b"), Err(NameError::Slash));
        assert_eq!(validate_name("a\0b"), Err(NameError::ControlCharacter));
        assert_eq!(validate_name("a\nb"), Err(NameError::ControlCharacter));
        assert_eq!(
            validate_name(&"x".repeat(256)),
            Err(NameError::TooLong(256))
        );
        assert_eq!(
            validate_name(&"é".repeat(128)),
            Err(NameError::TooLong(256))
        );
        assert_eq!(validate_name(&"x".repeat(255)), Ok(()));
    }

    #[test]
    fn chunk_ids_and_hashes() {
        assert!(is_valid_chunk_id(&"ab".repeat(32)));
        assert!(!is_valid_chunk_id(&"AB".repeat(32)));
        assert!(!is_valid_chunk_id(&"ab".repeat(31)));
        assert!(!is_valid_chunk_id(&format!("../{}", "a".repeat(61))));
        assert!(is_valid_content_hash(&format!(
            "blake3:{}",
            "0f".repeat(32)
        )));
        assert!(!is_valid_content_hash("blake3:"));
        assert!(!is_valid_content_hash("nohash"));
        assert!(!is_valid_content_hash("BLAKE3:00"));
        assert!(!is_valid_content_hash("md5:abc"));
    }

    #[test]
    fn conflicted_copies_name_their_original() {
        assert_eq!(
            conflict_original("report (conflicted copy laptop 2026-05-01T103500Z).txt").as_deref(),
            Some("report.txt")
        );
        assert_eq!(
            conflict_original("archive.tar (conflicted copy pc 2026-05-01T103500Z 2).gz")
                .as_deref(),
            Some("archive.tar.gz")
        );
        assert_eq!(
            conflict_original(".bashrc (conflicted copy pc 2026-05-01T103500Z)").as_deref(),
            Some(".bashrc")
        );
        assert_eq!(conflict_original("notes (draft).md"), None);
        assert_eq!(conflict_original("report.txt"), None);
    }
}
