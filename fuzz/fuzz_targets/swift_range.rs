//! The `Range` header (`nimbus_proxy::swift::range::resolve`).
//!
//! Raw headers must resolve to ranges inside the object; headers built from
//! specs must resolve to exactly what RFC 9110 and Swift say, computed here
//! independently.
#![no_main]

use std::ops::Range;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use nimbus_proxy::swift::range::{RangeRequest, resolve};

#[derive(Debug, Arbitrary)]
enum Spec {
    /// `first-last`
    Closed(u64, u64),
    /// `first-`
    From(u64),
    /// `-length`
    Suffix(u64),
}

#[derive(Debug, Arbitrary)]
enum Input<'a> {
    Raw {
        header: &'a str,
        size: u64,
    },
    Specs {
        specs: Vec<Spec>,
        size: u64,
        upper_case: bool,
        spaces: bool,
    },
}

/// What Swift answers for well-formed specs.
fn expected(specs: &[Spec], size: u64) -> RangeRequest {
    if specs.is_empty()
        || specs.len() > 50
        || specs
            .iter()
            .any(|spec| matches!(spec, Spec::Closed(first, last) if last < first))
    {
        return RangeRequest::Full;
    }
    let ranges: Vec<Range<u64>> = specs
        .iter()
        .filter_map(|spec| match *spec {
            Spec::Closed(first, last) if first < size => Some(first..last.min(size - 1) + 1),
            Spec::From(first) if first < size => Some(first..size),
            Spec::Suffix(length) if length > 0 && size > 0 => Some(size - length.min(size)..size),
            _ => None,
        })
        .collect();
    if ranges.is_empty() {
        RangeRequest::Unsatisfiable
    } else {
        RangeRequest::Partial(ranges)
    }
}

fuzz_target!(|input: Input<'_>| match input {
    Input::Raw { header, size } => match resolve(Some(header), size) {
        RangeRequest::Partial(ranges) => {
            assert!(!ranges.is_empty() && ranges.len() <= 50);
            for range in ranges {
                assert!(range.start < range.end && range.end <= size, "{range:?}");
            }
        }
        RangeRequest::Full | RangeRequest::Unsatisfiable => {}
    },
    Input::Specs {
        specs,
        size,
        upper_case,
        spaces,
    } => {
        let dash = if spaces { " - " } else { "-" };
        let text: Vec<String> = specs
            .iter()
            .map(|spec| match spec {
                Spec::Closed(first, last) => format!("{first}{dash}{last}"),
                Spec::From(first) => format!("{first}{dash}"),
                Spec::Suffix(length) => format!("{dash}{length}"),
            })
            .collect();
        let unit = if upper_case { "BYTES" } else { "bytes" };
        let header = format!("{unit}={}", text.join(","));
        assert_eq!(
            resolve(Some(&header), size),
            expected(&specs, size),
            "{header}"
        );
        assert_eq!(resolve(None, size), RangeRequest::Full);
    }
});
