//! `Range: bytes=…` with Swift's rules: a header that does not parse is
//! ignored (the whole object is served), unsatisfiable specs are dropped,
//! and if none is left the answer is 416.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    Full,
    Partial(Vec<Range<u64>>),
    Unsatisfiable,
}

/// Swift ignores headers with more ranges than this.
const MAX_RANGES: usize = 50;

enum Spec {
    From(u64, Option<u64>),
    Suffix(u64),
}

fn parse_specs(header: &str) -> Option<Vec<Spec>> {
    // Swift takes any case and white space around the parts (`BYTES = 0 - 9`).
    let (unit, specs) = header.split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    let mut parsed = Vec::new();
    for spec in specs.split(',').map(str::trim) {
        let (start, end) = spec.split_once('-')?;
        let spec = match (start.trim(), end.trim()) {
            ("", "") => return None,
            ("", suffix) => Spec::Suffix(suffix.parse().ok()?),
            (start, "") => Spec::From(start.parse().ok()?, None),
            (start, end) => {
                let (start, end): (u64, u64) = (start.parse().ok()?, end.parse().ok()?);
                if end < start {
                    return None;
                }
                Spec::From(start, Some(end))
            }
        };
        parsed.push(spec);
    }
    (parsed.len() <= MAX_RANGES).then_some(parsed)
}

/// Resolves a `Range` header against an object of `size` bytes.
pub fn resolve(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(specs) = header.and_then(parse_specs) else {
        return RangeRequest::Full;
    };
    let ranges: Vec<Range<u64>> = specs
        .into_iter()
        .filter_map(|spec| match spec {
            Spec::From(start, _) if start >= size => None,
            Spec::From(start, end) => Some(start..end.map_or(size, |e| e.min(size - 1) + 1)),
            Spec::Suffix(0) => None,
            Spec::Suffix(n) => Some(size.saturating_sub(n)..size),
        })
        .filter(|range| !range.is_empty())
        .collect();
    if ranges.is_empty() {
        RangeRequest::Unsatisfiable
    } else {
        RangeRequest::Partial(ranges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(range: Range<u64>) -> RangeRequest {
        RangeRequest::Partial(vec![range])
    }

    #[test]
    fn ranges_follow_swift() {
        assert_eq!(resolve(None, 11), RangeRequest::Full);
        assert_eq!(resolve(Some("bytes=0-4"), 11), single(0..5));
        assert_eq!(resolve(Some("bytes=-3"), 11), single(8..11));
        assert_eq!(resolve(Some("bytes=6-"), 11), single(6..11));
        assert_eq!(resolve(Some("bytes=5-100"), 11), single(5..11));
        assert_eq!(resolve(Some("bytes=-100"), 11), single(0..11));
        assert_eq!(
            resolve(Some("bytes=0-1,4-5"), 11),
            RangeRequest::Partial(vec![0..2, 4..6])
        );
        assert_eq!(
            resolve(Some("bytes=20-30"), 11),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(resolve(Some("bytes=-0"), 11), RangeRequest::Unsatisfiable);
        assert_eq!(resolve(Some("bytes=0-0"), 0), RangeRequest::Unsatisfiable);
        assert_eq!(resolve(Some("bytes=20-30,0-1"), 11), single(0..2));
        assert_eq!(resolve(Some("bytes=5-2"), 11), RangeRequest::Full);
        assert_eq!(resolve(Some("pages=1-2"), 11), RangeRequest::Full);
        assert_eq!(resolve(Some("bytes=a-b"), 11), RangeRequest::Full);
    }

    #[test]
    fn white_space_and_case_are_accepted() {
        for header in [
            "BYTES=0-4",
            "bytes = 0-4",
            "BYTES = 0 - 4",
            "bytes=0 - 4",
            "bytes=0-4 ",
        ] {
            assert_eq!(resolve(Some(header), 11), single(0..5), "{header}");
        }
    }
}
