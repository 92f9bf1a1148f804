//! Logging: human-readable by default, one JSON object per line with
//! `NIMBUS_LOG_FORMAT=json`; the level comes from `RUST_LOG` (default `info`).

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,lapin=warn"));
    let json = std::env::var("NIMBUS_LOG_FORMAT").is_ok_and(|f| f == "json");
    let _ = subscriber(json, filter, std::io::stderr).try_init();
}

/// The subscriber writing to `writer`, as JSON lines when `json`.
fn subscriber<W>(json: bool, filter: EnvFilter, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    if json {
        Box::new(builder.json().finish())
    } else {
        Box::new(builder.finish())
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::EnvFilter;

    use super::subscriber;
    use crate::test_log::CapturedLog;

    #[test]
    fn json_lines_parse_with_their_fields_and_span() {
        let captured = CapturedLog::default();
        let logger = subscriber(true, EnvFilter::new("info"), captured.clone());
        tracing::subscriber::with_default(logger, || {
            let _span = tracing::info_span!("request", operation = "commit").entered();
            tracing::info!(outcome = "ok", elapsed_ms = 1.5, "request");
        });
        let output = captured.text();
        let line: serde_json::Value = serde_json::from_str(output.lines().next().unwrap())
            .unwrap_or_else(|error| panic!("{output:?} is not JSON: {error}"));
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["fields"]["message"], "request");
        assert_eq!(line["fields"]["outcome"], "ok");
        assert_eq!(line["span"]["operation"], "commit");
    }
}
