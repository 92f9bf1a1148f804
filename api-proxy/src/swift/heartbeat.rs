//! Answers to requests that do many things at once (bulk delete, archive
//! extraction, an SLO manifest `PUT` with `?heartbeat=on`), as Swift's bulk
//! and SLO middleware give them: a summary in the body, in the format the
//! `Accept` header picks ([`ResultFormat`]), and, for the long ones, a body
//! that starts at once and carries a space every [`YIELD_FREQUENCY`] while
//! the work goes on ([`body`]), so that clients and proxies between them do
//! not time the request out. The outcome is then only in the body.

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use actix_web::http::StatusCode;
use bytes::Bytes;
use futures::Stream;
use serde_json::Value;

use super::RequestContext;

/// How long a heartbeat body goes without a byte at most (`yield_frequency`
/// of Swift's `slo` and `bulk`).
pub const YIELD_FREQUENCY: Duration = Duration::from_secs(10);

/// What a heartbeat sends while the work goes on.
const BEAT: &[u8] = b" ";
/// What separates the beats from the summary.
const SEPARATOR: &[u8] = b"\r\n\r\n";

/// The formats of a summary, in the order `Accept` ties are decided in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFormat {
    Text,
    Json,
    ApplicationXml,
    TextXml,
}

const FORMATS: [(ResultFormat, &str); 4] = [
    (ResultFormat::Text, "text/plain"),
    (ResultFormat::Json, "application/json"),
    (ResultFormat::ApplicationXml, "application/xml"),
    (ResultFormat::TextXml, "text/xml"),
];

impl ResultFormat {
    /// The format `Accept` prefers (text without the header), or `None`
    /// when it accepts none of them.
    pub fn from_request(context: &RequestContext) -> Option<Self> {
        match context.header("accept") {
            None => Some(Self::Text),
            Some(accept) => Self::best_match(accept),
        }
    }

    /// The offered format of highest quality in `accept`, the earliest of
    /// [`FORMATS`] on a tie; each takes the quality of the most specific
    /// media range that matches it.
    fn best_match(accept: &str) -> Option<Self> {
        let ranges: Vec<(&str, &str, f32)> = accept
            .split(',')
            .filter_map(|item| {
                let mut parts = item.split(';');
                let (kind, subtype) = parts.next()?.trim().split_once('/')?;
                let quality = parts
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some((kind.trim(), subtype.trim(), quality))
            })
            .collect();
        let quality_of = |offer: &str| {
            let (kind, subtype) = offer.split_once('/').expect("offers are type/subtype");
            ranges
                .iter()
                .filter_map(|(k, s, q)| {
                    let specificity = match (*k, *s) {
                        (k, s)
                            if k.eq_ignore_ascii_case(kind) && s.eq_ignore_ascii_case(subtype) =>
                        {
                            2
                        }
                        (k, "*") if k.eq_ignore_ascii_case(kind) => 1,
                        ("*", "*") => 0,
                        _ => return None,
                    };
                    Some((specificity, *q))
                })
                .max_by_key(|(specificity, _)| *specificity)
                .map_or(0.0, |(_, q)| q)
        };
        let mut best: Option<(Self, f32)> = None;
        for (format, offer) in FORMATS {
            let quality = quality_of(offer);
            if quality > 0.0 && best.is_none_or(|(_, q)| quality > q) {
                best = Some((format, quality));
            }
        }
        best.map(|(format, _)| format)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Text => "text/plain; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
            Self::ApplicationXml => "application/xml; charset=utf-8",
            Self::TextXml => "text/xml; charset=utf-8",
        }
    }

    fn is_xml(self) -> bool {
        matches!(self, Self::ApplicationXml | Self::TextXml)
    }

    /// The summary: `fields` (text and XML sort them by name), then the
    /// errors, each a name and a status, under `root` in XML.
    pub fn render(
        self,
        fields: &[(&str, Value)],
        errors: &[(String, String)],
        root: &str,
    ) -> String {
        let shown = |value: &Value| match value {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let mut sorted: Vec<&(&str, Value)> = fields.iter().collect();
        sorted.sort_by_key(|(name, _)| *name);
        match self {
            Self::Json => {
                let mut object: serde_json::Map<String, Value> = fields
                    .iter()
                    .map(|(name, value)| ((*name).to_owned(), value.clone()))
                    .collect();
                object.insert(
                    "Errors".into(),
                    errors
                        .iter()
                        .map(|(n, s)| serde_json::json!([n, s]))
                        .collect(),
                );
                Value::Object(object).to_string()
            }
            format if format.is_xml() => {
                let mut xml = format!("<{root}>\n");
                for (name, value) in sorted {
                    let tag = name.replace(' ', "_").to_lowercase();
                    xml.push_str(&format!("<{tag}>{}</{tag}>\n", escape(&shown(value))));
                }
                xml.push_str("<errors>\n");
                for (name, status) in errors {
                    xml.push_str(&format!(
                        "<object><name>{}</name><status>{}</status></object>\n",
                        escape(name),
                        escape(status)
                    ));
                }
                xml.push_str(&format!("</errors>\n</{root}>\n"));
                xml
            }
            _ => {
                let mut text = String::new();
                for (name, value) in sorted {
                    text.push_str(&format!("{name}: {}\n", shown(value)));
                }
                text.push_str("Errors:\n");
                for (name, status) in errors {
                    text.push_str(&format!("{name}, {status}\n"));
                }
                text
            }
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A status as summaries show it, in Swift's words: `201 Created`, `413
/// Request Entity Too Large`.
pub fn status_line(status: StatusCode) -> String {
    let reason = match status.as_u16() {
        413 => "Request Entity Too Large",
        414 => "Request URI Too Long",
        416 => "Requested Range Not Satisfiable",
        499 => "Client Disconnect",
        500 => "Internal Error",
        _ => status.canonical_reason().unwrap_or_default(),
    };
    format!("{} {reason}", status.as_u16())
}

/// A response body that runs `work` and sends its summary, with beats
/// before it while it runs: the first at once when `at_once` (the status
/// line is then sent before the work starts), else after
/// [`YIELD_FREQUENCY`]; an XML summary is preceded by its declaration, as
/// the first beat, since nothing may come before it. A client that goes
/// away drops the body, and with it the work.
pub fn body(
    format: ResultFormat,
    at_once: bool,
    work: impl Future<Output = String> + 'static,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    enum State<F> {
        Working { work: F, beats: u32 },
        Done,
    }
    let first_beat: &'static [u8] = if format.is_xml() {
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    } else {
        BEAT
    };
    let start = tokio::time::Instant::now() + YIELD_FREQUENCY;
    let mut ticks = tokio::time::interval_at(start, YIELD_FREQUENCY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let work = Box::pin(work);
    futures::stream::unfold(
        (State::Working { work, beats: 0 }, ticks),
        move |(state, mut ticks)| async move {
            let State::Working { mut work, beats } = state else {
                return None;
            };
            // Sent before the work is first polled, which may finish it.
            if at_once && beats == 0 {
                let working = State::Working { work, beats: 1 };
                return Some((Ok(Bytes::from_static(first_beat)), (working, ticks)));
            }
            // Biased: a summary ready at a beat goes out without it.
            tokio::select! {
                biased;
                summary = &mut work => {
                    let separator: &[u8] = if beats > 0 { SEPARATOR } else { b"" };
                    let chunk = Bytes::from([separator, summary.as_bytes()].concat());
                    Some((Ok(chunk), (State::Done, ticks)))
                }
                _ = ticks.tick() => {
                    let beat = if beats == 0 { first_beat } else { BEAT };
                    Some((
                        Ok(Bytes::from_static(beat)),
                        (State::Working { work, beats: beats + 1 }, ticks),
                    ))
                }
            }
        },
    )
}

/// Whether a query flag is on as Swift reads it (`true`, `1`, `yes`, `on`,
/// `t`, `y`, in any case).
pub fn is_on(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        ["true", "1", "yes", "on", "t", "y"]
            .iter()
            .any(|on| v.eq_ignore_ascii_case(on))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_picks_the_best_offered_format() {
        use ResultFormat::*;
        for (accept, expected) in [
            ("application/json", Some(Json)),
            ("*/*", Some(Text)),
            ("application/*", Some(Json)),
            ("text/*;q=0.5, application/xml", Some(ApplicationXml)),
            ("text/xml, text/plain", Some(Text)),
            ("text/xml;q=1, text/plain;q=0.9", Some(TextXml)),
            ("image/png", None),
            ("text/plain;q=0", None),
        ] {
            assert_eq!(ResultFormat::best_match(accept), expected, "{accept}");
        }
    }

    #[test]
    fn summaries_render_as_swift_writes_them() {
        let fields = [
            ("Response Status", Value::from("400 Bad Request")),
            ("Number Files Created", Value::from(2)),
            ("Response Body", Value::from("")),
        ];
        let errors = [(
            "c/a&b".to_owned(),
            "413 Request Entity Too Large".to_owned(),
        )];
        assert_eq!(
            ResultFormat::Text.render(&fields, &errors, "extract"),
            "Number Files Created: 2\nResponse Body: \nResponse Status: 400 Bad Request\n\
             Errors:\nc/a&b, 413 Request Entity Too Large\n"
        );
        assert_eq!(
            ResultFormat::TextXml.render(&fields, &errors, "extract"),
            "<extract>\n<number_files_created>2</number_files_created>\n<response_body></response_body>\n\
             <response_status>400 Bad Request</response_status>\n<errors>\n\
             <object><name>c/a&amp;b</name><status>413 Request Entity Too Large</status></object>\n\
             </errors>\n</extract>\n"
        );
        let json: Value =
            serde_json::from_str(&ResultFormat::Json.render(&fields, &errors, "extract")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "Response Status": "400 Bad Request",
                "Number Files Created": 2,
                "Response Body": "",
                "Errors": [["c/a&b", "413 Request Entity Too Large"]],
            })
        );
    }
}
