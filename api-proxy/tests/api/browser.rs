//! A browser without a browser, for the web UI's handler tests and the
//! benchmarks of its paths (`benches/web_paths.rs`): a client that keeps
//! cookies and signs in through the form, and a reader of server-sent events
//! as `EventSource` reads them.

use std::collections::HashMap;
use std::time::Duration;

use nimbus_protocol::rpc::Revision;
use reqwest::redirect::Policy;
use reqwest::{Response, StatusCode};

use super::helpers::{PASSWORD, TestApp};

/// A browser: remembers cookies, follows no redirects.
pub(crate) struct Browser {
    pub(crate) address: String,
    pub(crate) client: reqwest::Client,
    pub(crate) cookies: HashMap<String, String>,
}

impl Browser {
    pub(crate) fn new(app: &TestApp) -> Self {
        Self {
            address: app.address.clone(),
            client: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn remember(&mut self, response: &Response) {
        for set in response.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let removed = set.to_ascii_lowercase().contains("max-age=0");
            if removed || value.is_empty() {
                self.cookies.remove(name);
            } else {
                if name == "nimbus_session" {
                    nimbus_server::test_log::record_secret("session cookie", value);
                }
                self.cookies.insert(name.into(), value.into());
            }
        }
    }

    pub(crate) async fn send(&mut self, request: reqwest::RequestBuilder) -> Response {
        let response = request
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.remember(&response);
        response
    }

    pub(crate) async fn get(&mut self, path: &str) -> Response {
        let request = self.client.get(format!("{}{path}", self.address));
        self.send(request).await
    }

    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let request = self.client.post(format!("{}{path}", self.address));
        self.send(with_form(request, form)).await
    }

    /// Signs in through the form; returns the page's CSRF token.
    pub(crate) async fn sign_in(&mut self, user: &str) -> String {
        let response = self.sign_in_with(user, PASSWORD).await;
        assert_eq!(response.status(), 303, "sign-in of {user}");
        self.csrf().await
    }

    pub(crate) async fn sign_in_with(&mut self, user: &str, password: &str) -> Response {
        let form = self.get("/signin").await.text().await.unwrap();
        let nonce = value_of(&form, "name=\"nonce\" value=\"");
        self.post(
            "/signin",
            &[
                ("username", user),
                ("password", password),
                ("nonce", &nonce),
                ("next", "/"),
            ],
        )
        .await
    }

    async fn csrf(&mut self) -> String {
        let home = self.get("/").await;
        assert_eq!(home.status(), 200);
        value_of(
            &home.text().await.unwrap(),
            "name=\"csrf-token\" content=\"",
        )
    }

    pub(crate) async fn html(&mut self, path: &str) -> (StatusCode, String) {
        let response = self.get(path).await;
        (response.status(), response.text().await.unwrap())
    }
}

pub(crate) fn with_form(
    request: reqwest::RequestBuilder,
    form: &[(&str, &str)],
) -> reqwest::RequestBuilder {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    request
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
}

/// The text after `marker` up to the next quote.
pub(crate) fn value_of(html: &str, marker: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// How long an event may take to arrive before the test fails.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) id: Option<String>,
    pub(crate) kind: String,
    pub(crate) data: String,
}

/// An open event stream, read as a browser's `EventSource` does.
pub(crate) struct Events {
    response: Response,
    buffer: String,
}

impl Events {
    pub(crate) fn new(response: Response) -> Self {
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, comments skipped; `None` when the stream ended.
    pub(crate) async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Event {
                    id: None,
                    kind: "message".into(),
                    data: String::new(),
                };
                let mut any = false;
                for line in block.lines() {
                    let (field, value) = line.split_once(": ").unwrap_or((line, ""));
                    match field {
                        "id" => event.id = Some(value.into()),
                        "event" => event.kind = value.into(),
                        "data" => event.data = value.into(),
                        _ => continue,
                    }
                    any = true;
                }
                if any {
                    return Some(event);
                }
                continue;
            }
            let chunk = tokio::time::timeout(WAIT, self.response.chunk())
                .await
                .expect("an event in time")
                .expect("the stream reads");
            self.buffer.push_str(std::str::from_utf8(&chunk?).unwrap());
        }
    }

    pub(crate) async fn expect(&mut self, kind: &str, revision: Revision) {
        let event = self.next().await.expect("an event");
        assert_eq!(
            (event.kind.as_str(), event.id.as_deref()),
            (kind, Some(revision.to_string().as_str())),
            "{event:?}"
        );
    }
}
