//! The REST API v2 client: an OAuth 1.0a grant (the three legs, as a
//! mobile application gets it), then uploads of new files to the top of the
//! user's workspace through either proxy, and reads of earlier ones.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use oauth1_request as oauth;
use reqwest::{Client, Method, RequestBuilder, StatusCode};
use serde_json::Value;

use crate::ledger::{Ledger, error_kind, md5_hex, random_body};

/// An upload: its bytes' MD5, and the file id if the proxy answered 201.
#[derive(Clone)]
pub struct Upload {
    pub md5: String,
    pub id: Option<String>,
}

pub struct Rest {
    http: Client,
    proxies: Vec<String>,
    consumer: (String, String),
    token: (String, String),
    /// By file name; every upload gets a new name.
    pub uploads: Mutex<BTreeMap<String, Upload>>,
    ledger: Arc<Ledger>,
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn form_field(body: &str, name: &str) -> anyhow::Result<String> {
    form_urlencoded::parse(body.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .with_context(|| format!("no {name} in {body}"))
}

/// The `Authorization` header of a request to `url` (without its query)
/// with the decoded query `params`.
fn authorization(
    method: &str,
    url: &str,
    params: &[(&str, &str)],
    consumer: (&str, &str),
    token: Option<(&str, &str)>,
    callback: Option<&str>,
    verifier: Option<&str>,
) -> String {
    let mut builder = oauth::Builder::<_, _>::new(
        oauth::Credentials::new(consumer.0, consumer.1),
        oauth::HmacSha1::new(),
    );
    builder
        .token(token.map(|(key, secret)| oauth::Credentials::new(key, secret)))
        .callback(callback)
        .verifier(verifier);
    builder.authorize(method, url, &oauth::ParameterList::new(params.to_vec()))
}

impl Rest {
    /// The three legs against `proxies[0]`, "out of band".
    pub async fn grant(
        proxies: Vec<String>,
        consumer: (String, String),
        user: &str,
        password: &str,
        ledger: Arc<Ledger>,
    ) -> anyhow::Result<Self> {
        let http = Client::builder().timeout(Duration::from_secs(10)).build()?;
        let base = &proxies[0];
        let pair = (consumer.0.as_str(), consumer.1.as_str());
        let url = format!("{base}/oauth/request_token");
        let reply = http
            .post(&url)
            .header(
                "Authorization",
                authorization("POST", &url, &[], pair, None, Some("oob"), None),
            )
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let request = (
            form_field(&reply, "oauth_token")?,
            form_field(&reply, "oauth_token_secret")?,
        );
        let page = http
            .post(format!("{base}/oauth/authorize"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("oauth_token", &request.0),
                ("username", user),
                ("password", password),
                ("action", "allow"),
            ]))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let marker = "<code id=\"verifier\">";
        let start = page.find(marker).context("no verifier on the page")? + marker.len();
        let verifier = &page[start..start + page[start..].find("</code>").context("</code>")?];
        let url = format!("{base}/oauth/access_token");
        let reply = http
            .post(&url)
            .header(
                "Authorization",
                authorization(
                    "POST",
                    &url,
                    &[],
                    pair,
                    Some((&request.0, &request.1)),
                    None,
                    Some(verifier),
                ),
            )
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        let token = (
            form_field(&reply, "oauth_token")?,
            form_field(&reply, "oauth_token_secret")?,
        );
        Ok(Self {
            http,
            proxies,
            consumer,
            token,
            uploads: Mutex::default(),
            ledger,
        })
    }

    fn request(
        &self,
        proxy: usize,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> RequestBuilder {
        let url = format!("{}{path}", self.proxies[proxy]);
        let header = authorization(
            method,
            &url,
            query,
            (&self.consumer.0, &self.consumer.1),
            Some((&self.token.0, &self.token.1)),
            None,
            None,
        );
        let url = if query.is_empty() {
            url
        } else {
            format!("{url}?{}", form(query))
        };
        self.http
            .request(
                Method::from_bytes(method.as_bytes()).expect("a method"),
                url,
            )
            .header("StackSync-API", "v2")
            .header("Authorization", header)
    }

    /// Uploads new files until `stop`, and reads an earlier one after each.
    pub async fn write(&self, stop: &AtomicBool) {
        let mut sent = 0usize;
        while !stop.load(Ordering::Relaxed) {
            let name = format!("rest-{sent:05}.bin");
            let proxy = sent % self.proxies.len();
            sent += 1;
            let body = random_body();
            let md5 = md5_hex(&body);
            self.uploads.lock().unwrap().insert(
                name.clone(),
                Upload {
                    md5: md5.clone(),
                    id: None,
                },
            );
            let result = self
                .request(
                    proxy,
                    "POST",
                    "/v1/file",
                    &[("name", &name), ("parent", "0")],
                )
                .body(body)
                .send()
                .await;
            match result {
                Ok(response) if response.status() == StatusCode::CREATED => {
                    match response.json::<Value>().await {
                        Ok(file) => {
                            let id = file["id"].as_str().map(str::to_owned);
                            if id.is_none() {
                                self.ledger
                                    .violation(format!("POST {name}: 201 without an id: {file}"));
                            }
                            self.uploads.lock().unwrap().get_mut(&name).unwrap().id = id;
                            self.ledger.rest_uploads_acknowledged.add();
                        }
                        Err(error) => {
                            self.ledger.failure("REST upload", error_kind(&error));
                            self.ledger.rest_upload_errors.add();
                        }
                    }
                }
                Ok(response) => {
                    self.ledger.failure("REST upload", response.status());
                    self.ledger.rest_upload_errors.add();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => {
                    self.ledger.failure("REST upload", error_kind(&error));
                    self.ledger.rest_upload_errors.add();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            self.read_one(sent % self.proxies.len()).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// GETs the bytes of a random acknowledged upload: they must be whole.
    async fn read_one(&self, proxy: usize) {
        let uploaded: Vec<(String, Upload)> = self
            .uploads
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, upload)| upload.id.is_some())
            .map(|(name, upload)| (name.clone(), upload.clone()))
            .collect();
        if uploaded.is_empty() {
            return;
        }
        let (name, upload) = &uploaded[rand::random_range(0..uploaded.len())];
        match self.data(proxy, upload.id.as_deref().unwrap()).await {
            Ok(md5) if md5 == upload.md5 => self.ledger.reads_checked.add(),
            Ok(md5) => {
                self.ledger.reads_checked.add();
                self.ledger.violation(format!(
                    "torn read: GET {name} through the REST API returned MD5 {md5}, uploaded {}",
                    upload.md5
                ));
            }
            Err(error) => {
                self.ledger.failure("REST GET", error);
                self.ledger.read_errors.add();
            }
        }
    }

    /// The MD5 of a file's whole content.
    async fn data(&self, proxy: usize, id: &str) -> anyhow::Result<String> {
        let response = self
            .request(proxy, "GET", &format!("/v1/file/{id}/data"), &[])
            .send()
            .await
            .map_err(|error| anyhow::anyhow!(error_kind(&error)))?;
        if response.status() != StatusCode::OK {
            bail!("{}", response.status());
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| anyhow::anyhow!(error_kind(&error)))?;
        Ok(md5_hex(&body))
    }

    async fn json(&self, path: &str) -> anyhow::Result<Value> {
        let response = self.request(0, "GET", path, &[]).send().await?;
        if response.status() != StatusCode::OK {
            bail!("GET {path}: {}", response.status());
        }
        Ok(response.json().await?)
    }

    /// After recovery: every acknowledged upload reads back byte for byte.
    /// Returns how many were verified.
    pub async fn verify(&self) -> usize {
        let uploads = self.uploads.lock().unwrap().clone();
        let mut verified = 0;
        for (name, upload) in &uploads {
            let Some(id) = &upload.id else { continue };
            match self.data(0, id).await {
                Ok(md5) if md5 == upload.md5 => verified += 1,
                Ok(md5) => self.ledger.violation(format!(
                    "{name} (REST, acknowledged) reads back as MD5 {md5}, uploaded {}",
                    upload.md5
                )),
                Err(error) => self.ledger.violation(format!(
                    "{name} (REST, acknowledged) cannot be read after recovery: {error:#}"
                )),
            }
        }
        verified
    }

    /// After recovery: no file of the workspace has two versions with the
    /// same number, and no folder two live children with the same name.
    /// Returns how many files' histories were checked.
    pub async fn check_versions(&self) -> usize {
        let mut folders = vec![("".to_owned(), "0".to_owned())];
        let mut files = 0;
        while let Some((path, id)) = folders.pop() {
            let folder = match self.json(&format!("/v1/folder/{id}")).await {
                Ok(folder) => folder,
                Err(error) => {
                    self.ledger.violation(format!(
                        "cannot list /{path} through the REST API: {error:#}"
                    ));
                    continue;
                }
            };
            let mut names = std::collections::HashSet::new();
            for item in folder["contents"].as_array().into_iter().flatten() {
                let name = item["filename"].as_str().unwrap_or_default();
                let item_id = item["id"].as_str().unwrap_or_default().to_owned();
                let item_path = format!("{path}/{name}");
                if !names.insert(name.to_owned()) {
                    self.ledger
                        .violation(format!("{item_path} is listed twice in its folder"));
                }
                if item["is_folder"].as_bool() == Some(true) {
                    folders.push((item_path, item_id));
                    continue;
                }
                files += 1;
                match self.json(&format!("/v1/file/{item_id}/versions")).await {
                    Ok(history) => {
                        let mut numbers: Vec<u64> = history["versions"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|v| v["version"].as_u64())
                            .collect();
                        let all = numbers.len();
                        numbers.sort_unstable();
                        numbers.dedup();
                        if numbers.len() != all {
                            self.ledger.violation(format!(
                                "{item_path} has duplicate version numbers: {history}"
                            ));
                        }
                        if name.starts_with("rest-") && all != 1 {
                            self.ledger.violation(format!(
                                "{item_path}, uploaded once, has {all} versions"
                            ));
                        }
                    }
                    Err(error) => self.ledger.violation(format!(
                        "cannot read the versions of {item_path}: {error:#}"
                    )),
                }
            }
        }
        files
    }
}
