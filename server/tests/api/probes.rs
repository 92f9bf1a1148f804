//! Test helpers for probes and metrics, shared with the proxy's tests:
//! a relay to the test broker that a test can cut (so a component loses its
//! broker connection while the shared RabbitMQ runs on), and a reader of
//! Prometheus' text format.

use std::time::Duration;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// A TCP relay to the broker of an AMQP URL.
pub struct BrokerRelay {
    /// The AMQP URL through the relay.
    pub url: String,
    accepting: JoinHandle<()>,
}

impl BrokerRelay {
    /// Relays to the host and port of `amqp_url` (`amqp://user:pass@host:port/vhost`).
    pub async fn start(amqp_url: &str) -> Self {
        let (credentials, rest) = amqp_url.split_once('@').expect("the URL has credentials");
        let (upstream, vhost) = rest.split_once('/').expect("the URL has a vhost");
        let upstream = upstream.to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepting = tokio::spawn(async move {
            // Dropped with this task when the relay is cut, which ends
            // every relayed connection.
            let mut connections = JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self {
            url: format!("{credentials}@127.0.0.1:{port}/{vhost}"),
            accepting,
        }
    }

    /// Closes the relayed connections and refuses new ones.
    pub async fn cut(self) {
        self.accepting.abort();
        let _ = self.accepting.await;
    }
}

/// The sum of the samples of `name` whose labels include `labels`, from
/// metrics in Prometheus' text format; 0 when there is none.
pub fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, series_labels) = match series.split_once('{') {
                Some((series_name, rest)) => (series_name, rest.strip_suffix('}')?),
                None => (series, ""),
            };
            if series_name != name {
                return None;
            }
            let pairs: Vec<(&str, &str)> = series_labels
                .split(',')
                .filter_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    Some((key, value.trim_matches('"')))
                })
                .collect();
            labels
                .iter()
                .all(|label| pairs.contains(label))
                .then(|| value.parse::<f64>().expect("a sample's value is a number"))
        })
        .sum()
}

/// `/readyz` at `base` until its status is `status` (at most 15 s); its body.
pub async fn readiness_when(base: &str, status: u16) -> serde_json::Value {
    let client = reqwest::Client::new();
    let mut last = None;
    for _ in 0..150 {
        let response = client.get(format!("{base}/readyz")).send().await.unwrap();
        let answered = response.status().as_u16();
        let body: serde_json::Value = response.json().await.expect("/readyz answers JSON");
        if answered == status {
            return body;
        }
        last = Some((answered, body));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/readyz did not answer {status} within 15 s; last: {last:?}");
}
