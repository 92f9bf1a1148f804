//! The Swift client: PUTs new objects and overwrites old ones through
//! either proxy, recording every attempt and every 201 with its MD5, and a
//! reader that GETs them meanwhile and checks each body is a whole one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::{Client, StatusCode};

use crate::ledger::{Ledger, error_kind, md5_hex, random_body};

const CONTAINER: &str = "faults";

/// One PUT of a key, in the order the writer sent them.
#[derive(Clone)]
struct Attempt {
    md5: String,
    acknowledged: bool,
}

pub struct Swift {
    http: Client,
    proxies: Vec<String>,
    /// `/v1/<account>`, the same on every proxy.
    account_path: String,
    token: Mutex<String>,
    attempts: Mutex<HashMap<String, Vec<Attempt>>>,
    /// PUTs in flight per proxy, so that a proxy is killed mid-upload.
    pub uploading: Vec<AtomicU64>,
    ledger: Arc<Ledger>,
}

/// A TempAuth token and the account path, from `proxy`.
async fn authenticate(
    http: &Client,
    proxy: &str,
    user: &str,
    password: &str,
) -> anyhow::Result<(String, String)> {
    let response = http
        .get(format!("{proxy}/auth/v1.0"))
        .header("X-Auth-User", format!("{user}:{user}"))
        .header("X-Auth-Key", password)
        .send()
        .await?;
    if !response.status().is_success() {
        bail!("TempAuth answered {}", response.status());
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .with_context(|| format!("no {name} from TempAuth"))
    };
    let token = header("x-auth-token")?;
    let storage = reqwest::Url::parse(&header("x-storage-url")?)?;
    Ok((token, storage.path().to_owned()))
}

impl Swift {
    pub async fn connect(
        proxies: Vec<String>,
        user: &str,
        password: &str,
        ledger: Arc<Ledger>,
    ) -> anyhow::Result<Arc<Self>> {
        let http = Client::builder().timeout(Duration::from_secs(10)).build()?;
        let (token, account_path) = authenticate(&http, &proxies[0], user, password).await?;
        let created = http
            .put(format!("{}{account_path}/{CONTAINER}", proxies[0]))
            .header("X-Auth-Token", &token)
            .send()
            .await?;
        if !created.status().is_success() {
            bail!("creating the container answered {}", created.status());
        }
        Ok(Arc::new(Self {
            uploading: proxies.iter().map(|_| AtomicU64::new(0)).collect(),
            http,
            proxies,
            account_path,
            token: Mutex::new(token),
            attempts: Mutex::default(),
            ledger,
        }))
    }

    fn url(&self, proxy: usize, key: &str) -> String {
        format!(
            "{}{}/{CONTAINER}/{key}",
            self.proxies[proxy], self.account_path
        )
    }

    fn token(&self) -> String {
        self.token.lock().unwrap().clone()
    }

    /// A new token after a 401 (the proxies cache tokens, the metadata
    /// servers keep them; neither should forget one, but a fault may).
    async fn reauthenticate(&self, proxy: usize, user: &str, password: &str) {
        if let Ok((token, _)) = authenticate(&self.http, &self.proxies[proxy], user, password).await
        {
            *self.token.lock().unwrap() = token;
        }
    }

    /// Writes until `stop`: `writer` names its own keys, so the order of
    /// the attempts of each key is known.
    pub async fn write(&self, writer: usize, user: &str, password: &str, stop: &AtomicBool) {
        let mut keys: Vec<String> = Vec::new();
        let mut sent = 0usize;
        while !stop.load(Ordering::Relaxed) {
            let key = if keys.is_empty() || rand::random_range(0..10) < 7 {
                let key = format!("w{writer}/o{:06}", keys.len());
                keys.push(key.clone());
                key
            } else {
                keys[rand::random_range(0..keys.len())].clone()
            };
            let body = random_body();
            let md5 = md5_hex(&body);
            let index = {
                let mut attempts = self.attempts.lock().unwrap();
                let list = attempts.entry(key.clone()).or_default();
                list.push(Attempt {
                    md5: md5.clone(),
                    acknowledged: false,
                });
                list.len() - 1
            };
            let proxy = sent % self.proxies.len();
            sent += 1;
            self.uploading[proxy].fetch_add(1, Ordering::Relaxed);
            // Said even for an empty body, which hyper would send without
            // a length: Swift (and the proxy, like it) answers a PUT that
            // has neither a length nor chunked encoding 411.
            let result = self
                .http
                .put(self.url(proxy, &key))
                .header("X-Auth-Token", self.token())
                .header(reqwest::header::CONTENT_LENGTH, body.len())
                .body(body)
                .send()
                .await;
            self.uploading[proxy].fetch_sub(1, Ordering::Relaxed);
            match result {
                Ok(response) if response.status() == StatusCode::CREATED => {
                    let etag = response
                        .headers()
                        .get("etag")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .trim_matches('"')
                        .to_owned();
                    if etag != md5 {
                        self.ledger.violation(format!(
                            "PUT {key}: 201 with ETag {etag}, but the body's MD5 is {md5}"
                        ));
                    }
                    self.attempts.lock().unwrap().get_mut(&key).unwrap()[index].acknowledged = true;
                    self.ledger.swift_puts_acknowledged.add();
                }
                Ok(response) => {
                    self.ledger.failure("Swift PUT", response.status());
                    if response.status() == StatusCode::UNAUTHORIZED {
                        self.reauthenticate(proxy, user, password).await;
                    }
                    self.ledger.swift_put_errors.add();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => {
                    self.ledger.failure("Swift PUT", error_kind(&error));
                    self.ledger.swift_put_errors.add();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// GETs random keys until `stop`; every whole body must be one that was
    /// written to that key, with the ETag of its bytes.
    pub async fn read(&self, stop: &AtomicBool) {
        let mut sent = 0usize;
        while !stop.load(Ordering::Relaxed) {
            let key = {
                let attempts = self.attempts.lock().unwrap();
                let keys: Vec<&String> = attempts.keys().collect();
                if keys.is_empty() {
                    None
                } else {
                    Some(keys[rand::random_range(0..keys.len())].clone())
                }
            };
            let Some(key) = key else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let acknowledged_before: Vec<String> = self.attempts.lock().unwrap()[&key]
                .iter()
                .filter(|a| a.acknowledged)
                .map(|a| a.md5.clone())
                .collect();
            let proxy = sent % self.proxies.len();
            sent += 1;
            match self.get(proxy, &key).await {
                Ok(Some((body_md5, etag))) => {
                    // Whatever could have been visible: every attempt so far.
                    let written: Vec<String> = self.attempts.lock().unwrap()[&key]
                        .iter()
                        .map(|a| a.md5.clone())
                        .collect();
                    if !written.contains(&body_md5) {
                        self.ledger.violation(format!(
                            "torn read: GET {key} returned a body (MD5 {body_md5}) that was never written"
                        ));
                    } else if etag.as_deref().is_some_and(|etag| etag != body_md5) {
                        self.ledger.violation(format!(
                            "GET {key}: ETag {etag:?} but the body's MD5 is {body_md5}"
                        ));
                    }
                    if !acknowledged_before.contains(&body_md5) {
                        self.ledger.reads_of_unacknowledged.add();
                    }
                    self.ledger.reads_checked.add();
                }
                Ok(None) => {}
                Err(error) => {
                    self.ledger.failure("Swift GET", error);
                    self.ledger.read_errors.add();
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The MD5 of the whole body and the ETag; `None` on 404.
    async fn get(
        &self,
        proxy: usize,
        key: &str,
    ) -> anyhow::Result<Option<(String, Option<String>)>> {
        let response = self
            .http
            .get(self.url(proxy, key))
            .header("X-Auth-Token", self.token())
            .send()
            .await
            .map_err(|error| anyhow::anyhow!(error_kind(&error)))?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if response.status() != StatusCode::OK {
            bail!("{}", response.status());
        }
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim_matches('"').to_owned());
        let body = response
            .bytes()
            .await
            .map_err(|error| anyhow::anyhow!(error_kind(&error)))?;
        Ok(Some((md5_hex(&body), etag)))
    }

    /// After recovery: every acknowledged object is there, through each
    /// proxy, with the bytes of its last acknowledged PUT, or of a PUT whose
    /// answer never came: such a request may still be carried out after
    /// later ones (a paused proxy reads it when it resumes, as Swift's
    /// would), so it may win. Returns how many objects were verified, and
    /// how many of them hold such an unacknowledged write.
    pub async fn verify(&self) -> (usize, usize) {
        let attempts = self.attempts.lock().unwrap().clone();
        let (mut verified, mut unacknowledged_last) = (0, 0);
        for (key, list) in &attempts {
            let last_acknowledged = list.iter().rposition(|a| a.acknowledged);
            let allowed: Vec<&String> = list
                .iter()
                .enumerate()
                .filter(|(index, a)| !a.acknowledged || Some(*index) == last_acknowledged)
                .map(|(_, a)| &a.md5)
                .collect();
            let mut holds_unacknowledged = false;
            for proxy in 0..self.proxies.len() {
                match self.get(proxy, key).await {
                    Ok(Some((md5, _))) if allowed.contains(&&md5) => {
                        holds_unacknowledged |=
                            last_acknowledged.is_some_and(|i| list[i].md5 != md5);
                    }
                    Ok(Some((md5, _))) => self.ledger.violation(format!(
                        "{key} through proxy {proxy} has MD5 {md5}, not its last acknowledged write ({:?})",
                        last_acknowledged.map(|i| &list[i].md5)
                    )),
                    Ok(None) if last_acknowledged.is_none() => {}
                    Ok(None) => self
                        .ledger
                        .violation(format!("{key} got a 201 but is gone (404)")),
                    Err(error) => self
                        .ledger
                        .violation(format!("{key} cannot be read after recovery: {error:#}")),
                }
            }
            if last_acknowledged.is_some() {
                verified += 1;
                unacknowledged_last += usize::from(holds_unacknowledged);
            }
        }
        match self.listing().await {
            Ok(names) => {
                let mut seen = std::collections::HashSet::new();
                for name in &names {
                    if !seen.insert(name) {
                        self.ledger
                            .violation(format!("the container lists {name} twice"));
                    }
                    if !attempts.contains_key(name) {
                        self.ledger
                            .violation(format!("the container lists {name}, never written"));
                    }
                }
                for (key, list) in &attempts {
                    if list.iter().any(|a| a.acknowledged) && !seen.contains(key) {
                        self.ledger
                            .violation(format!("the container listing lacks {key}"));
                    }
                }
            }
            Err(error) => self.ledger.violation(format!(
                "cannot list the container after recovery: {error:#}"
            )),
        }
        (verified, unacknowledged_last)
    }

    /// Every name in the container (pages of 10,000).
    async fn listing(&self) -> anyhow::Result<Vec<String>> {
        let mut names: Vec<String> = Vec::new();
        loop {
            let mut url = format!(
                "{}{}/{CONTAINER}?format=json",
                self.proxies[0], self.account_path
            );
            if let Some(last) = names.last() {
                url.push_str(&format!("&marker={}", percent(last)));
            }
            let request = self.http.get(url).header("X-Auth-Token", self.token());
            let response = request.send().await?;
            if !response.status().is_success() {
                bail!("listing answered {}", response.status());
            }
            let page: serde_json::Value = response.json().await?;
            let page: Vec<String> = page
                .as_array()
                .context("a JSON array")?
                .iter()
                .filter_map(|o| o["name"].as_str().map(str::to_owned))
                .collect();
            if page.is_empty() {
                return Ok(names);
            }
            names.extend(page);
        }
    }
}

/// `name` for a query string (keys are letters, digits, `/` and `_`).
fn percent(name: &str) -> String {
    form_urlencoded::byte_serialize(name.as_bytes()).collect()
}
