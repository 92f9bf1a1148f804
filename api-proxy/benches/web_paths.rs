//! The web UI's paths that issue #11 sets goals for, each beside a baseline
//! measured in the same run, so that the figures read as ratios on a noisy
//! shared machine. A benchmark, not a test: it prints figures and checks
//! only that the bytes and events came back.
//!
//! ```text
//! cargo bench -p nimbus-proxy --bench web_paths
//! NIMBUS_BENCH_UPLOAD_MIB=64 cargo bench -p nimbus-proxy --bench web_paths   # a quick run
//! ```
//!
//! It starts, in this process, a proxy (objects in a temporary directory) and
//! a metadata server on the local PostgreSQL and RabbitMQ, as the
//! integration tests do, makes a user (quota raised to fit every round), a
//! desktop device of theirs (Swift token and metadata RPC over AMQP) and a
//! browser signed in through the form (session cookie and CSRF token).
//!
//! 1. **Upload**: a file of `NIMBUS_BENCH_UPLOAD_MIB` MiB (1024) of
//!    incompressible bytes sent as `web/static/upload.js` sends a file:
//!    `POST /uploads`, then `PUT /uploads/{id}?offset=N` of the
//!    `request_bytes` the proxy names, one at a time, each with the
//!    session cookie, `X-CSRF-Token` and `Content-Type:
//!    application/octet-stream`, then `POST /uploads/{id}/finish` (the
//!    commit). Baseline: one Swift `PUT` of the same bytes to the same
//!    proxy. Goal: browser throughput at least 0.8 of Swift's. Each of
//!    `NIMBUS_BENCH_ROUNDS` (2) rounds sends new bytes (chunks already
//!    stored would not be stored again), the two targets taking turns to go
//!    first.
//! 2. **Zip**: time to the first byte and throughput of the web UI's zip
//!    (`GET /files/{workspace}/{folder}/zip`) of the folder the first round
//!    uploaded into (its one file), against the same file downloaded
//!    (`GET /files/{workspace}/{item}/download`); fastest of the rounds.
//! 3. **Folder page**: the time of `GET /files/{workspace}/{folder}` (first
//!    page, 200 rows, sorted by name) of a folder of
//!    `NIMBUS_BENCH_FOLDER_ENTRIES` (10,000) empty files, against a folder
//!    of 10, taking turns, median and p95 of `NIMBUS_BENCH_PAGE_REQUESTS`
//!    (20) each after one warm-up. Timed at the client over loopback, so
//!    it is the server's time plus a local round trip.
//! 4. **Live**: a folder page's event stream (`GET
//!    /files/{workspace}/events`) is open while the desktop device commits
//!    a new folder over AMQP `NIMBUS_BENCH_LIVE_COMMITS` (20) times; the
//!    time from sending each commit to the stream's `change` event for its
//!    revision, against the commit's own round trip, median and p95.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use bytes::Bytes;
use nimbus_server::storage::Actor;
use serde_json::{Value, json};
use uuid::Uuid;

mod support;
use support::browser::{Browser, Events};
use support::helpers::{Device, TestApp};
use support::{
    MIB, Timed, commit, fastest, folder_item, helpers, millis, percentile, setting, stored_file,
    timed,
};

const USER: &str = "bench";

/// The browser's session: cookie and CSRF token, as a page holds them.
struct Page {
    browser: Browser,
    csrf: String,
}

impl Page {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.browser
            .client
            .request(method, format!("{}{path}", self.browser.address))
            .header("cookie", self.browser.cookie_header())
            .header("x-csrf-token", &self.csrf)
    }

    /// One call of upload.js's `call()`: JSON in and out, `expected` status.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        expected: u16,
    ) -> anyhow::Result<Value> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await?;
        let status = response.status();
        let answer = response.bytes().await?;
        ensure!(
            status == expected,
            "{path}: {status} {}",
            String::from_utf8_lossy(&answer)
        );
        Ok(serde_json::from_slice(&answer)?)
    }
}

/// Sends `data` as upload.js sends a picked file, into `parent`; returns
/// the committed item.
async fn browser_upload(
    page: &Page,
    workspace: Uuid,
    parent: Uuid,
    name: &str,
    data: &Bytes,
) -> anyhow::Result<Uuid> {
    let size = data.len() as u64;
    let session = page
        .call(
            reqwest::Method::POST,
            "/uploads",
            Some(json!({
                "workspace": workspace.to_string(),
                "parent": parent.to_string(),
                "path": name,
                "size": size,
                "modified": 1_700_000_000_000_i64,
            })),
            201,
        )
        .await?;
    ensure!(session["exists"] == false, "{session}");
    let id = session["id"].as_str().context("a session id")?;
    let request_bytes = session["request_bytes"].as_u64().context("request_bytes")?;
    let mut offset = session["offset"].as_u64().context("an offset")?;
    while offset < size {
        let end = (offset + request_bytes).min(size);
        let answer = page
            .request(
                reqwest::Method::PUT,
                &format!("/uploads/{id}?offset={offset}"),
            )
            .header("content-type", "application/octet-stream")
            .body(data.slice(offset as usize..end as usize))
            .send()
            .await?;
        let status = answer.status();
        let answer: Value = serde_json::from_slice(&answer.bytes().await?)?;
        ensure!(status == 200, "PUT at {offset}: {status} {answer}");
        offset = answer["offset"].as_u64().context("an offset")?;
    }
    let finished = page
        .call(
            reqwest::Method::POST,
            &format!("/uploads/{id}/finish"),
            Some(json!({ "on_clash": "ask" })),
            201,
        )
        .await?;
    finished["item"]
        .as_str()
        .context("the committed item")?
        .parse()
        .context("an item id")
}

/// One Swift `PUT` of `data` as `object` of `container_url`.
async fn swift_put(
    app: &TestApp,
    device: &Device,
    container_url: &str,
    object: &str,
    data: &Bytes,
) -> anyhow::Result<()> {
    let response = app
        .client
        .put(format!("{container_url}/{object}"))
        .header("x-auth-token", &device.swift_token)
        .body(data.clone())
        .send()
        .await?;
    ensure!(response.status() == 201, "Swift PUT: {}", response.status());
    Ok(())
}

fn mib_per_sec(bytes: usize, took: Duration) -> f64 {
    bytes as f64 / MIB / took.as_secs_f64()
}

struct Uploaded {
    folder: Uuid,
    item: Uuid,
}

/// The upload rounds; returns what the first one committed.
async fn upload(
    app: &TestApp,
    device: &Device,
    page: &Page,
    mib: usize,
    rounds: usize,
) -> anyhow::Result<Uploaded> {
    let workspace = device.workspace.workspace_id;
    let swift_container = format!("{}/swift-baseline", device.storage_url);
    let created = app
        .client
        .put(&swift_container)
        .header("x-auth-token", &device.swift_token)
        .send()
        .await?;
    ensure!(created.status().is_success(), "{}", created.status());
    let mut first = None;
    let mut best = (Duration::MAX, Duration::MAX);
    println!();
    println!("upload of {mib} MiB: browser path (upload.js's requests) against one Swift PUT");
    println!(
        "{:<10} {:>12} {:>12} {:>8}",
        "round", "browser MiB/s", "Swift MiB/s", "ratio"
    );
    for round in 0..rounds {
        let data = Bytes::from(helpers::noise(mib << 20, 0x5EED + round as u64));
        let folder = folder_item(&format!("round {round}"), None);
        let folder_id = folder.id;
        commit(device, vec![folder]).await?;
        let mut browser_took = Duration::ZERO;
        let mut swift_took = Duration::ZERO;
        for turn in 0..2 {
            let started = Instant::now();
            if (turn + round) % 2 == 0 {
                let item = browser_upload(page, workspace, folder_id, "big.bin", &data).await?;
                browser_took = started.elapsed();
                first.get_or_insert(Uploaded {
                    folder: folder_id,
                    item,
                });
            } else {
                swift_put(
                    app,
                    device,
                    &swift_container,
                    &format!("big-{round}"),
                    &data,
                )
                .await?;
                swift_took = started.elapsed();
            }
        }
        best = (best.0.min(browser_took), best.1.min(swift_took));
        println!(
            "{round:<10} {:>12.1} {:>12.1} {:>8.2}",
            mib_per_sec(data.len(), browser_took),
            mib_per_sec(data.len(), swift_took),
            swift_took.as_secs_f64() / browser_took.as_secs_f64()
        );
    }
    println!(
        "{:<10} {:>12.1} {:>12.1} {:>8.2}   (goal: ratio at least 0.80)",
        "fastest",
        mib_per_sec(mib << 20, best.0),
        mib_per_sec(mib << 20, best.1),
        best.1.as_secs_f64() / best.0.as_secs_f64()
    );
    first.context("no rounds")
}

fn zip_row(label: &str, timed: Timed) {
    println!(
        "{label:<22} {:>12.1} {:>10.1} {:>9.2}",
        millis(timed.first_byte),
        timed.mib_per_sec(),
        timed.total.as_secs_f64()
    );
}

async fn zip(
    device: &Device,
    page: &Page,
    uploaded: &Uploaded,
    rounds: usize,
) -> anyhow::Result<()> {
    let workspace = device.workspace.workspace_id;
    let get = |path: String| page.request(reqwest::Method::GET, &path);
    let zip_path = format!("/files/{workspace}/{}/zip", uploaded.folder);
    let file_path = format!("/files/{workspace}/{}/download", uploaded.item);
    let zipped = fastest(rounds, || timed(get(zip_path.clone()))).await?;
    let plain = fastest(rounds, || timed(get(file_path.clone()))).await?;
    ensure!(zipped.bytes > plain.bytes, "the zip holds the file");
    println!();
    println!("folder zip of the uploaded file, fastest of {rounds}, against the file downloaded");
    println!(
        "{:<22} {:>12} {:>10} {:>9}",
        "download", "1st byte ms", "MiB/s", "total s"
    );
    zip_row("zip of its folder", zipped);
    zip_row("the file", plain);
    println!(
        "{:<22} {:>12.2} {:>10.2} {:>9.2}",
        "ratio zip / file",
        zipped.first_byte.as_secs_f64() / plain.first_byte.as_secs_f64(),
        zipped.mib_per_sec() / plain.mib_per_sec(),
        zipped.total.as_secs_f64() / plain.total.as_secs_f64()
    );
    Ok(())
}

/// A folder of `entries` empty files, committed as a desktop client does.
async fn folder_of(
    app: &TestApp,
    device: &Device,
    name: &str,
    entries: usize,
) -> anyhow::Result<Uuid> {
    let folder = folder_item(name, None);
    let id = folder.id;
    let mut items = vec![folder];
    for n in 0..entries {
        items.push(stored_file(app, device, id, format!("file {n:05}.txt"), b"").await);
    }
    commit(device, items).await?;
    Ok(id)
}

/// One folder page, timed until its last byte.
async fn page_time(page: &mut Page, path: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let response = page.browser.get(path).await;
    ensure!(response.status() == 200, "{path}: {}", response.status());
    let html = response.text().await?;
    let took = started.elapsed();
    ensure!(html.contains("file 00000.txt"), "{path} lists its files");
    Ok(took)
}

async fn folder_pages(
    app: &TestApp,
    device: &Device,
    page: &mut Page,
    entries: usize,
    requests: usize,
) -> anyhow::Result<()> {
    const SMALL: usize = 10;
    let workspace = device.workspace.workspace_id;
    let big = format!(
        "/files/{workspace}/{}",
        folder_of(app, device, "big folder", entries).await?
    );
    let small = format!(
        "/files/{workspace}/{}",
        folder_of(app, device, "small folder", SMALL).await?
    );
    page_time(page, &big).await?;
    page_time(page, &small).await?;
    let (mut big_times, mut small_times) = (Vec::new(), Vec::new());
    for _ in 0..requests {
        big_times.push(page_time(page, &big).await?);
        small_times.push(page_time(page, &small).await?);
    }
    let (big_median, small_median) = (
        percentile(&mut big_times, 50.0),
        percentile(&mut small_times, 50.0),
    );
    let (big_p95, small_p95) = (
        percentile(&mut big_times, 95.0),
        percentile(&mut small_times, 95.0),
    );
    println!();
    println!("folder page (first 200 rows by name), {requests} requests each, taking turns");
    println!("{:<22} {:>10} {:>10}", "folder", "median ms", "p95 ms");
    let row = |label: &str, median, p95| {
        println!("{label:<22} {:>10.1} {:>10.1}", millis(median), millis(p95));
    };
    row(&format!("{entries} entries"), big_median, big_p95);
    row(&format!("{SMALL} entries"), small_median, small_p95);
    println!(
        "{:<22} {:>10.2} {:>10.2}",
        "ratio",
        big_median.as_secs_f64() / small_median.as_secs_f64(),
        big_p95.as_secs_f64() / small_p95.as_secs_f64()
    );
    Ok(())
}

async fn live(device: &Device, page: &mut Page, commits: usize) -> anyhow::Result<()> {
    let workspace = device.workspace.workspace_id;
    let since = commit(device, vec![folder_item("live: before", None)]).await?;
    let request = page.browser.client.get(format!(
        "{}/files/{workspace}/events?since={since}",
        page.browser.address
    ));
    let mut events = Events::new(page.browser.send(request).await);
    events.expect("ready", since).await;
    let (mut to_event, mut round_trips) = (Vec::new(), Vec::new());
    for n in 0..commits {
        let started = Instant::now();
        let revision = commit(device, vec![folder_item(&format!("live {n}"), None)]).await?;
        round_trips.push(started.elapsed());
        events.expect("change", revision).await;
        to_event.push(started.elapsed());
        // Apart, as a user's saves are, so that no commit waits on another's event.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (event_median, event_p95) = (
        percentile(&mut to_event, 50.0),
        percentile(&mut to_event, 95.0),
    );
    let (commit_median, commit_p95) = (
        percentile(&mut round_trips, 50.0),
        percentile(&mut round_trips, 95.0),
    );
    println!();
    println!("desktop commit (AMQP) to the open page's change event, {commits} commits");
    println!("{:<28} {:>10} {:>10}", "", "median ms", "p95 ms");
    println!(
        "{:<28} {:>10.1} {:>10.1}",
        "commit sent to event",
        millis(event_median),
        millis(event_p95)
    );
    println!(
        "{:<28} {:>10.1} {:>10.1}",
        "commit round trip",
        millis(commit_median),
        millis(commit_p95)
    );
    println!(
        "{:<28} {:>10.2} {:>10.2}",
        "ratio event / round trip",
        event_median.as_secs_f64() / commit_median.as_secs_f64(),
        event_p95.as_secs_f64() / commit_p95.as_secs_f64()
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let upload_mib = setting("NIMBUS_BENCH_UPLOAD_MIB", 1024);
    let rounds = setting("NIMBUS_BENCH_ROUNDS", 2);
    let entries = setting("NIMBUS_BENCH_FOLDER_ENTRIES", 10_000);
    let page_requests = setting("NIMBUS_BENCH_PAGE_REQUESTS", 20);
    let live_commits = setting("NIMBUS_BENCH_LIVE_COMMITS", 20);

    let app = helpers::spawn_app_with(|settings| {
        settings.zip_max_bytes = u64::MAX;
    })
    .await;
    app.add_user(USER, None, true).await;
    // Every round stores the file twice (browser and Swift).
    let quota = 2 * rounds as u64 * ((upload_mib as u64) << 20) + (1 << 30);
    nimbus_server::admin::set_quota(app.metadata.as_ref(), &Actor::command_line(), USER, quota)
        .await?;
    let device = helpers::device(&app, USER).await;
    let mut browser = Browser::new(&app);
    let csrf = browser.sign_in(USER).await;
    let mut page = Page { browser, csrf };

    println!(
        "load average at the start: {}",
        std::fs::read_to_string("/proc/loadavg")?.trim()
    );
    let uploaded = upload(&app, &device, &page, upload_mib, rounds).await?;
    zip(&device, &page, &uploaded, rounds).await?;
    folder_pages(&app, &device, &mut page, entries, page_requests).await?;
    live(&device, &mut page, live_commits).await?;
    println!();
    println!(
        "load average at the end: {}",
        std::fs::read_to_string("/proc/loadavg")?.trim()
    );
    Ok(())
}
