//! Account and container listings: query parameters, delimiter roll-up over
//! the index's range scans, and the plain, JSON and XML renderings.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpResponse, HttpResponseBuilder};

use super::symlink;
use crate::error::SwiftError;
use crate::index::{Bound, ContainerInfo, IndexError, ListRange, Manifest, ObjectRecord};

/// `container_listing_limit` and `account_listing_limit`.
pub const LISTING_LIMIT: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Plain,
    Json,
    Xml,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Plain => "text/plain; charset=utf-8",
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "application/xml; charset=utf-8",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingParams {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub marker: Option<String>,
    pub end_marker: Option<String>,
    pub limit: usize,
    pub reverse: bool,
    pub format: Format,
    /// `path=`: only what lies directly in this pseudo-directory (the
    /// `prefix`, which then ends with `/`): its objects and the markers of
    /// its subdirectories, never rolled-up `subdir` entries.
    pub path_mode: bool,
}

impl ListingParams {
    /// Reads the parameters from the decoded query and the `Accept` header.
    pub fn parse(query: &[(String, String)], headers: &HeaderMap) -> Result<Self, SwiftError> {
        let get = |key: &str| {
            query
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let non_empty = |key: &str| get(key).filter(|v| !v.is_empty()).map(str::to_owned);
        // Swift takes only digits and ignores any other value.
        let limit = match get("limit") {
            Some(raw) if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) => {
                match raw.parse::<usize>() {
                    Ok(limit) if limit <= LISTING_LIMIT => limit,
                    _ => return Err(SwiftError::PreconditionFailed("Maximum limit is 10000")),
                }
            }
            _ => LISTING_LIMIT,
        };
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let format = match get("format").map(str::to_ascii_lowercase).as_deref() {
            Some("json") => Format::Json,
            Some("xml") => Format::Xml,
            Some(_) => Format::Plain,
            None if accept.contains("application/json") => Format::Json,
            None if accept.contains("application/xml") || accept.contains("text/xml") => {
                Format::Xml
            }
            None => Format::Plain,
        };
        let reverse = get("reverse").is_some_and(|v| {
            matches!(
                v.to_ascii_lowercase().as_str(),
                "true" | "1" | "yes" | "on" | "t" | "y"
            )
        });
        let path = get("path").map(|path| match path.trim_end_matches('/') {
            "" if path.is_empty() => String::new(),
            trimmed => format!("{trimmed}/"),
        });
        Ok(Self {
            path_mode: path.is_some(),
            delimiter: if path.is_some() {
                Some("/".to_owned())
            } else {
                non_empty("delimiter")
            },
            prefix: path.unwrap_or_else(|| get("prefix").unwrap_or_default().to_owned()),
            marker: non_empty("marker"),
            end_marker: non_empty("end_marker"),
            limit,
            reverse,
            format,
        })
    }
}

/// A listed thing: container or object.
pub trait Listed {
    fn name(&self) -> &str;
    fn to_json(&self) -> serde_json::Value;
    fn to_xml(&self) -> String;
    const XML_ELEMENT: &'static str;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry<T> {
    Item(T),
    /// Names rolled up to the delimiter.
    Subdir(String),
}

/// The first name after every name that starts with `subdir` (which ends
/// with the delimiter), or `None` when no name sorts after them all.
///
/// UTF-8 byte order is code point order, so that name starts with the
/// successor of `subdir`'s last character. One past U+D7FF is U+E000
/// (surrogates are not characters); U+10FFFF has none, so the character
/// before it moves on instead.
fn skip_past(subdir: &str) -> Option<Bound> {
    let mut stem = subdir.to_owned();
    while let Some(last) = stem.pop() {
        let next = match last {
            '\u{d7ff}' => Some('\u{e000}'),
            last => char::from_u32(u32::from(last) + 1),
        };
        if let Some(next) = next {
            stem.push(next);
            return Some(Bound {
                name: stem,
                inclusive: true,
            });
        }
    }
    None
}

/// An exclusive marker as a bound of a scan (`upper`: names must sort
/// below it). No name holds a NUL, and the index cannot store one, so a
/// marker `p\0…` is cut to `p`: the names above it are those above `p`, the
/// names below it are `p` and those below.
fn marker_bound(marker: &str, upper: bool) -> Bound {
    match marker.split_once('\0') {
        Some((before, _)) => Bound {
            name: before.to_owned(),
            inclusive: upper,
        },
        None => Bound {
            name: marker.to_owned(),
            inclusive: false,
        },
    }
}

/// Runs the scans a listing needs and rolls names up to the delimiter.
pub async fn collect<T: Listed>(
    params: &ListingParams,
    mut scan: impl AsyncFnMut(ListRange) -> Result<Vec<T>, IndexError>,
) -> Result<Vec<Entry<T>>, SwiftError> {
    // No name holds a NUL (the index cannot store one), so none starts with
    // such a prefix.
    if params.prefix.contains('\0') {
        return Ok(Vec::new());
    }
    let exclusive = |name: &String| Bound {
        name: name.clone(),
        inclusive: false,
    };
    // `marker` is where the listing starts in its own order, `end_marker` where it stops.
    let (mut start, end) = (
        params
            .marker
            .as_deref()
            .map(|marker| marker_bound(marker, params.reverse)),
        params
            .end_marker
            .as_deref()
            .map(|end_marker| marker_bound(end_marker, !params.reverse)),
    );
    let mut entries = Vec::new();
    'scans: while entries.len() < params.limit {
        let wanted = params.limit - entries.len();
        let (lower, upper) = if params.reverse {
            (end.clone(), start.clone())
        } else {
            (start.clone(), end.clone())
        };
        let batch = scan(ListRange {
            prefix: params.prefix.clone(),
            lower,
            upper,
            reverse: params.reverse,
            limit: wanted,
        })
        .await?;
        let exhausted = batch.len() < wanted;
        for item in batch {
            if params.path_mode && item.name() == params.prefix {
                start = Some(exclusive(&item.name().to_owned()));
                continue;
            }
            let rolled_up = params.delimiter.as_deref().and_then(|delimiter| {
                let rest = &item.name()[params.prefix.len()..];
                rest.find(delimiter)
                    .map(|at| item.name()[..params.prefix.len() + at + delimiter.len()].to_owned())
            });
            match rolled_up {
                // A subdirectory's own marker object is listed as an object.
                Some(subdir) if params.path_mode && subdir == item.name() => {
                    start = Some(exclusive(&subdir));
                    entries.push(Entry::Item(item));
                }
                Some(subdir) => {
                    let past = if params.reverse {
                        Some(exclusive(&subdir))
                    } else {
                        skip_past(&subdir)
                    };
                    // A page that starts at a subdir (the last entry of the
                    // page before) does not list it again, as in Swift.
                    if !params.path_mode && params.marker.as_ref() != Some(&subdir) {
                        entries.push(Entry::Subdir(subdir));
                    }
                    match past {
                        Some(past) => {
                            start = Some(past);
                            continue 'scans;
                        }
                        // Every name left starts with this subdir.
                        None => break 'scans,
                    }
                }
                None => {
                    start = Some(exclusive(&item.name().to_owned()));
                    entries.push(Entry::Item(item));
                }
            }
        }
        if exhausted {
            break;
        }
    }
    Ok(entries)
}

fn xml_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// Renders a listing: plain text (204 when empty), JSON or XML under
/// `<root_tag name="root_name">`. `response` already carries the
/// account or container headers.
pub fn render<T: Listed>(
    mut response: HttpResponseBuilder,
    entries: &[Entry<T>],
    format: Format,
    root_tag: &str,
    root_name: &str,
) -> HttpResponse {
    match format {
        Format::Plain => {
            response.content_type(format.content_type());
            if entries.is_empty() {
                return response.status(StatusCode::NO_CONTENT).finish();
            }
            let mut body = String::new();
            for entry in entries {
                body.push_str(match entry {
                    Entry::Item(item) => item.name(),
                    Entry::Subdir(subdir) => subdir,
                });
                body.push('\n');
            }
            response.body(body)
        }
        Format::Json => {
            let items: Vec<serde_json::Value> = entries
                .iter()
                .map(|entry| match entry {
                    Entry::Item(item) => item.to_json(),
                    Entry::Subdir(subdir) => serde_json::json!({ "subdir": subdir }),
                })
                .collect();
            response
                .content_type(format.content_type())
                .body(serde_json::Value::Array(items).to_string())
        }
        Format::Xml => {
            let mut body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root_tag} name=\"{}\">",
                xml_escape(root_name)
            );
            for entry in entries {
                match entry {
                    Entry::Item(item) => body.push_str(&item.to_xml()),
                    Entry::Subdir(subdir) => {
                        let subdir = xml_escape(subdir);
                        body.push_str(&format!(
                            "<subdir name=\"{subdir}\"><name>{subdir}</name></subdir>"
                        ));
                    }
                }
            }
            body.push_str(&format!("</{root_tag}>"));
            response.content_type(format.content_type()).body(body)
        }
    }
}

fn xml_element(tag: &str, fields: &[(&str, String)]) -> String {
    let mut xml = format!("<{tag}>");
    for (name, value) in fields {
        xml.push_str(&format!("<{name}>{}</{name}>", xml_escape(value)));
    }
    xml.push_str(&format!("</{tag}>"));
    xml
}

/// The only storage policy.
pub const STORAGE_POLICY: &str = "default";

impl Listed for ContainerInfo {
    const XML_ELEMENT: &'static str = "container";

    fn name(&self) -> &str {
        &self.name
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "count": self.object_count,
            "bytes": self.bytes_used,
            "last_modified": self.modified.listing_format(),
            "storage_policy": STORAGE_POLICY,
        })
    }

    fn to_xml(&self) -> String {
        xml_element(
            Self::XML_ELEMENT,
            &[
                ("name", self.name.clone()),
                ("count", self.object_count.to_string()),
                ("bytes", self.bytes_used.to_string()),
                ("last_modified", self.modified.listing_format()),
                ("storage_policy", STORAGE_POLICY.to_owned()),
            ],
        )
    }
}

/// An object's `hash` in listings: for an SLO, the MD5 of its manifest (its
/// content's ETag, `slo_etag`, is listed beside it).
fn listed_hash(object: &ObjectRecord) -> &str {
    match &object.manifest {
        Some(Manifest::Static {
            manifest_etag: Some(manifest_etag),
            ..
        }) => manifest_etag,
        _ => &object.etag,
    }
}

impl Listed for ObjectRecord {
    const XML_ELEMENT: &'static str = "object";

    fn name(&self) -> &str {
        &self.name
    }

    fn to_json(&self) -> serde_json::Value {
        let mut item = serde_json::json!({
            "name": self.name,
            "hash": listed_hash(self),
            "bytes": self.size,
            "content_type": self.content_type,
            "last_modified": self.modified.listing_format(),
        });
        if let Some(Manifest::Static { .. }) = self.manifest {
            item["slo_etag"] = format!("\"{}\"", self.etag).into();
        }
        if let Some(link) = &self.symlink {
            symlink::list(&mut item, link);
        }
        item
    }

    fn to_xml(&self) -> String {
        xml_element(
            Self::XML_ELEMENT,
            &[
                ("name", self.name.clone()),
                ("hash", listed_hash(self).to_owned()),
                ("bytes", self.size.to_string()),
                ("content_type", self.content_type.clone()),
                ("last_modified", self.modified.listing_format()),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Name(String);

    impl Listed for Name {
        const XML_ELEMENT: &'static str = "object";
        fn name(&self) -> &str {
            &self.0
        }
        fn to_json(&self) -> serde_json::Value {
            serde_json::json!({ "name": self.0 })
        }
        fn to_xml(&self) -> String {
            xml_element("object", &[("name", self.0.clone())])
        }
    }

    /// An in-memory index scan over sorted names.
    fn scan_of(names: &[&str]) -> impl AsyncFnMut(ListRange) -> Result<Vec<Name>, IndexError> {
        let mut sorted: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        sorted.sort();
        async move |range: ListRange| {
            let within = |n: &String| {
                n.starts_with(&range.prefix)
                    && range
                        .lower
                        .as_ref()
                        .is_none_or(|b| n > &b.name || (b.inclusive && *n == b.name))
                    && range
                        .upper
                        .as_ref()
                        .is_none_or(|b| n < &b.name || (b.inclusive && *n == b.name))
            };
            let mut hits: Vec<Name> = sorted
                .iter()
                .filter(|n| within(n))
                .cloned()
                .map(Name)
                .collect();
            if range.reverse {
                hits.reverse();
            }
            hits.truncate(range.limit);
            Ok(hits)
        }
    }

    fn params(query: &str) -> ListingParams {
        let pairs: Vec<(String, String)> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect();
        ListingParams::parse(&pairs, &HeaderMap::new()).unwrap()
    }

    async fn list(names: &[&str], query: &str) -> Vec<String> {
        collect(&params(query), scan_of(names))
            .await
            .unwrap()
            .into_iter()
            .map(|e| match e {
                Entry::Item(Name(n)) => n,
                Entry::Subdir(s) => format!("{s} (dir)"),
            })
            .collect()
    }

    const NAMES: &[&str] = &["a/1", "a/2", "a/b/3", "b", "c/1", "d"];

    #[tokio::test]
    async fn delimiter_rolls_up_and_markers_page() {
        assert_eq!(
            list(NAMES, "delimiter=/").await,
            ["a/ (dir)", "b", "c/ (dir)", "d"]
        );
        assert_eq!(list(NAMES, "delimiter=/&limit=2").await, ["a/ (dir)", "b"]);
        assert_eq!(list(NAMES, "delimiter=/&marker=b").await, ["c/ (dir)", "d"]);
        // The next page after one that ended with a subdir (fuzz/regressions/swift_listing).
        assert_eq!(
            list(NAMES, "delimiter=/&marker=a/").await,
            ["b", "c/ (dir)", "d"]
        );
        assert_eq!(list(&["../.b", "b"], "delimiter=.&marker=.").await, ["b"]);
        // Subdirs ending in U+10FFFF or U+D7FF: listed once, and what
        // follows them still is.
        for delimiter in ['\u{10ffff}', '\u{d7ff}'] {
            let names = [
                format!("a{delimiter}{delimiter}b"),
                format!("a{delimiter}\u{10ffff}x"),
                format!("a{delimiter}c"),
                "b".to_owned(),
            ];
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            assert_eq!(
                list(&names, &format!("delimiter={delimiter}")).await,
                [format!("a{delimiter} (dir)"), "b".to_owned()]
            );
        }
        let max = '\u{10ffff}';
        assert_eq!(
            list(
                &[format!("{max}{max}b").as_str()],
                &format!("delimiter={max}&limit=5")
            )
            .await,
            [format!("{max} (dir)")]
        );
        assert_eq!(
            list(NAMES, "prefix=a/&delimiter=/").await,
            ["a/1", "a/2", "a/b/ (dir)"]
        );
        assert_eq!(
            list(NAMES, "marker=a/2&end_marker=c/1").await,
            ["a/b/3", "b"]
        );
        assert_eq!(list(NAMES, "limit=2&marker=a/2").await, ["a/b/3", "b"]);
        assert_eq!(list(NAMES, "delimiter=").await.len(), 6);
    }

    #[tokio::test]
    async fn reverse_listings() {
        assert_eq!(list(NAMES, "reverse=true&limit=3").await, ["d", "c/1", "b"]);
        assert_eq!(
            list(NAMES, "reverse=true&delimiter=/").await,
            ["d", "c/ (dir)", "b", "a/ (dir)"]
        );
        assert_eq!(
            list(NAMES, "reverse=true&marker=c/1&end_marker=a/2").await,
            ["b", "a/b/3"]
        );
    }

    #[tokio::test]
    async fn markers_with_nul_and_path_listings() {
        // `b\0x` lies just above `b`.
        assert_eq!(list(NAMES, "marker=b\0x").await, ["c/1", "d"]);
        assert!(list(NAMES, "prefix=b\0").await.is_empty());
        assert_eq!(
            list(NAMES, "end_marker=b\0x").await,
            ["a/1", "a/2", "a/b/3", "b"]
        );
        assert_eq!(
            list(NAMES, "reverse=on&marker=b\0x&end_marker=a/1").await,
            ["b", "a/b/3", "a/2"]
        );
        let names = &["a/", "a/1", "a/b/", "a/b/2", "a/b/c/3", "z"];
        assert_eq!(list(names, "path=").await, ["a/", "z"]);
        assert_eq!(list(names, "path=a").await, ["a/1", "a/b/"]);
        assert_eq!(list(names, "path=a/b/").await, ["a/b/2"]);
    }

    #[test]
    fn limits_and_formats() {
        let pairs = vec![("limit".to_owned(), "10001".to_owned())];
        assert!(ListingParams::parse(&pairs, &HeaderMap::new()).is_err());
        // Swift ignores limits that are not plain digits.
        assert_eq!(params("limit=5000.0").limit, LISTING_LIMIT);
        assert_eq!(params("limit=-1").limit, LISTING_LIMIT);
        assert_eq!(params("limit=7").limit, 7);
        assert_eq!(params("format=json").format, Format::Json);
        assert_eq!(params("format=xml").format, Format::Xml);
        assert_eq!(params("").format, Format::Plain);
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, "application/json".parse().unwrap());
        assert_eq!(
            ListingParams::parse(&[], &headers).unwrap().format,
            Format::Json
        );
    }

    #[test]
    fn xml_is_escaped() {
        let response = render(
            HttpResponse::Ok(),
            &[Entry::Item(Name("a<&>".into())), Entry::Subdir("d/".into())],
            Format::Xml,
            "container",
            "c",
        );
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            xml_element("object", &[("name", "a<&>".into())]),
            "<object><name>a&lt;&amp;&gt;</name></object>"
        );
    }
}
