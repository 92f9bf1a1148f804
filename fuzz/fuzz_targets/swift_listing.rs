//! Container and account listings (`nimbus_proxy::swift::listing::collect`)
//! over an in-memory index, against a direct model of Swift's listing:
//! names in byte order (descending with `reverse`), after `marker`, before
//! `end_marker`, under `prefix`, names past the prefix rolled up to their
//! first `delimiter` (each such `subdir` once, and not the marker itself,
//! as Swift's container broker does), at most `limit` entries.
#![no_main]

use std::collections::BTreeSet;

use actix_web::http::header::HeaderMap;
use arbitrary::Arbitrary;
use futures::executor::block_on;
use libfuzzer_sys::fuzz_target;
use nimbus_proxy::index::{IndexError, ListRange};
use nimbus_proxy::swift::listing::{Entry, Listed, ListingParams, collect};

/// Characters that matter at the edges: the delimiter, neighbours of it,
/// the last scalar value and the one before the surrogate gap.
const ALPHABET: [char; 8] = ['a', 'b', '/', '.', '0', '\u{e9}', '\u{d7ff}', '\u{10ffff}'];

#[derive(Debug, Arbitrary)]
struct Text(Vec<u8>);

impl Text {
    fn string(&self) -> String {
        self.0
            .iter()
            .take(6)
            .map(|pick| ALPHABET[usize::from(*pick) % ALPHABET.len()])
            .collect()
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    names: Vec<Text>,
    prefix: Option<Text>,
    delimiter: Option<Text>,
    marker: Option<Text>,
    /// Puts a NUL into the marker at this place (a NUL never is in a name).
    marker_nul: Option<u8>,
    end_marker: Option<Text>,
    limit: u8,
    reverse: bool,
    path: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Name(String);

impl Listed for Name {
    const XML_ELEMENT: &'static str = "object";
    fn name(&self) -> &str {
        &self.0
    }
    fn to_json(&self) -> serde_json::Value {
        serde_json::Value::String(self.0.clone())
    }
    fn to_xml(&self) -> String {
        self.0.clone()
    }
}

/// What the index's range scan returns.
fn scan(names: &BTreeSet<String>, range: &ListRange) -> Vec<Name> {
    let within = |name: &&String| {
        name.starts_with(&range.prefix)
            && range.lower.as_ref().is_none_or(|b| {
                name.as_str() > b.name.as_str() || (b.inclusive && **name == b.name)
            })
            && range.upper.as_ref().is_none_or(|b| {
                name.as_str() < b.name.as_str() || (b.inclusive && **name == b.name)
            })
    };
    let hits = names.iter().filter(within);
    let hits: Vec<&String> = if range.reverse {
        hits.rev().take(range.limit).collect()
    } else {
        hits.take(range.limit).collect()
    };
    hits.into_iter().map(|n| Name(n.clone())).collect()
}

fn model(names: &BTreeSet<String>, params: &ListingParams) -> Vec<String> {
    let ordered: Vec<&String> = if params.reverse {
        names.iter().rev().collect()
    } else {
        names.iter().collect()
    };
    let mut entries: Vec<String> = Vec::new();
    for name in ordered {
        let after_marker = params.marker.as_deref().is_none_or(|marker| {
            if params.reverse {
                name.as_str() < marker
            } else {
                name.as_str() > marker
            }
        });
        let before_end = params.end_marker.as_deref().is_none_or(|end| {
            if params.reverse {
                name.as_str() > end
            } else {
                name.as_str() < end
            }
        });
        if !name.starts_with(&params.prefix) || !after_marker || !before_end {
            continue;
        }
        let entry = match params.delimiter.as_deref().and_then(|delimiter| {
            name[params.prefix.len()..].find(delimiter).map(|at| {
                format!(
                    "{}/dir",
                    &name[..params.prefix.len() + at + delimiter.len()]
                )
            })
        }) {
            Some(subdir) => subdir,
            None => format!("{name}/item"),
        };
        let is_marker = params
            .marker
            .as_deref()
            .is_some_and(|marker| entry == format!("{marker}/dir"));
        if entries.last() != Some(&entry) && !is_marker {
            entries.push(entry);
        }
    }
    entries.truncate(params.limit);
    entries
}

fuzz_target!(|input: Input| {
    let names: BTreeSet<String> = input.names.iter().map(Text::string).collect();
    let mut query: Vec<(String, String)> = vec![
        ("limit".into(), (input.limit % 12 + 1).to_string()),
        ("reverse".into(), input.reverse.to_string()),
    ];
    let mut add = |key: &str, text: &Option<Text>| {
        if let Some(text) = text {
            query.push((key.into(), text.string()));
        }
    };
    add("prefix", &input.prefix);
    add("delimiter", &input.delimiter);
    add("end_marker", &input.end_marker);
    add("path", &input.path);
    if let Some(marker) = &input.marker {
        let mut marker = marker.string();
        if let Some(at) = input.marker_nul {
            let at = marker
                .char_indices()
                .map(|(i, _)| i)
                .nth(usize::from(at))
                .unwrap_or(marker.len());
            marker.insert(at, '\0');
        }
        query.push(("marker".into(), marker));
    }
    let params = ListingParams::parse(&query, &HeaderMap::new()).expect("valid parameters");
    let listed = block_on(collect(&params, async |range: ListRange| {
        Ok::<_, IndexError>(scan(&names, &range))
    }))
    .expect("an in-memory scan does not fail");
    let listed: Vec<String> = listed
        .into_iter()
        .map(|entry| match entry {
            Entry::Item(Name(name)) => format!("{name}/item"),
            Entry::Subdir(subdir) => format!("{subdir}/dir"),
        })
        .collect();
    if params.path_mode {
        // Only what lies directly in the pseudo-directory.
        assert!(listed.len() <= params.limit);
        for entry in &listed {
            let name = entry.strip_suffix("/item").expect("path= lists no subdirs");
            let rest = name
                .strip_prefix(params.prefix.as_str())
                .expect("under the path");
            assert!(!rest.is_empty());
            assert!(
                rest.find('/').is_none_or(|at| at == rest.len() - 1),
                "{name}"
            );
        }
    } else {
        assert_eq!(listed, model(&names, &params), "{params:?} over {names:?}");
    }
});
