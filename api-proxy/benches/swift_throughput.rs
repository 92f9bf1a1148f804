//! Throughput of the proxy's Swift API next to the same bytes written to and
//! read from the local file system directly, in the same run, so that the
//! figures can be read as ratios on a noisy shared machine. A benchmark, not a
//! test: it prints figures and asserts only that the bytes came back.
//!
//! ```text
//! cargo bench -p nimbus-proxy --bench swift_throughput
//! ```
//!
//! It starts, in this process, a proxy (objects in a temporary directory) and a
//! metadata server on the local PostgreSQL and RabbitMQ, exactly as the
//! integration tests do, then measures with 8 concurrent clients PUT and GET
//! objects/s for 4 KiB and 1 MiB objects, and single-stream MB/s for one
//! 256 MiB object.
//!
//! The baseline does the same durable work as the proxy's blob store, on the
//! same file system: each object is written to a temporary file, fsynced and
//! renamed into place ("fs durable"). The same without fsync ("fs no fsync")
//! is printed as well, to show what durability costs, but it is not what the
//! proxy's figures should be held against: the proxy (like Swift) fsyncs every
//! object before it answers, and PostgreSQL commits the index row durably.
//!
//! A third baseline, "HTTP floor", is what HTTP alone costs on this machine:
//! an in-process actix-web server, configured as the proxy's, that drains
//! PUT bodies and answers GETs from memory, reached by the same client with
//! the same concurrency. No HTTP object store can go faster; the distance
//! between the proxy and this floor is what storing and indexing add, while
//! the distance between the floor and the file system is the price of
//! serving over a socket at all.
//!
//! When `NIMBUS_BENCH_SWIFT_AUTH_URL`, `NIMBUS_BENCH_SWIFT_USER` and
//! `NIMBUS_BENCH_SWIFT_KEY` name a real OpenStack Swift (v1 auth, e.g. from
//! `scripts/real-swift.sh env`), the same workloads also run against it and
//! the proxy/Swift ratios are printed.
//!
//! Two more tables hold the proxy against limits rather than other stores.
//!
//! "Page cache dropped": the GETs of the first table read objects written
//! moments before, from memory, where even the HTTP floor reaches only a
//! fraction of a page-cache read. A store holding more data than RAM reads
//! most objects from the disk. So every GET workload also runs cold: the page
//! cache (and the dentry and inode caches) is dropped (`sync`, then `3`
//! written to `/proc/sys/vm/drop_caches`) before the proxy's round and again
//! before the "fs durable" round, so both start cold. That needs root; without
//! it the bench says on one line that the cold rows are skipped, and why, and
//! carries on. PostgreSQL keeps its own shared buffers, which the kernel does
//! not drop: the proxy's index rows (and any object bytes the index keeps in
//! them) may still be read from memory, as on a real server whose shared
//! buffers hold the hot part of its index. The bench's own code is dropped
//! too, and faults back in during the first cold requests. On a virtual
//! machine the host may still hold the disk's blocks in its own cache, which
//! no guest can drop: cold there means "not in this machine's memory".
//!
//! "MD5 alone": Swift's ETag is the MD5 of the object, which the proxy must
//! compute over every byte it stores, so no PUT can go faster than that hash
//! (about 650 MB/s on one core). Each PUT round also times the MD5 of the
//! same bytes and nothing else: for the concurrent workloads, one digest per
//! object by the same 8 tasks on the bench runtime's 2 worker threads (every
//! core hashing, as the proxy hashes bodies up to 1 MiB on its workers; a
//! `spawn_blocking` hand-off per object would cost as much as hashing 4 KiB);
//! for the stream, one thread, as one MD5 is a chain that cannot be split.
//! The ratio proxy / MD5 alone shows how close PUTs come to this hard limit.
//!
//! Every workload runs `NIMBUS_BENCH_ROUNDS` times (3) on every target, the
//! targets taking turns, and the fastest round of each is printed: on a shared
//! machine that is the round least disturbed by other work. Each PUT round
//! writes new names. `NIMBUS_BENCH_SMALL`, `NIMBUS_BENCH_LARGE` and
//! `NIMBUS_BENCH_STREAM_MIB` change the object counts (2000, 200) and the
//! stream size (256).

use std::collections::HashMap;
use std::future::Future;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::{Context, ensure};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use md5::{Digest, Md5};
use reqwest::{Method, RequestBuilder};
use uuid::Uuid;

// The integration tests' `spawn_app()`; the bench uses only part of it.
#[allow(dead_code)]
#[path = "../tests/api/helpers.rs"]
mod helpers;

const CONCURRENCY: usize = 8;
const MIB: usize = 1 << 20;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Bytes that do not compress.
fn pseudo_random_bytes(len: usize) -> Bytes {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Runs `operation(0..count)` on `CONCURRENCY` workers and returns the elapsed time.
async fn run_concurrently<F, Fut>(count: usize, operation: F) -> anyhow::Result<Duration>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let operation = Arc::new(operation);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (operation, next) = (Arc::clone(&operation), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= count {
                        return Ok::<_, anyhow::Error>(());
                    }
                    operation(index).await?;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    Ok(started.elapsed())
}

/// A Swift API endpoint: the proxy under test or a real Swift to compare with.
#[derive(Clone)]
struct SwiftEndpoint {
    client: reqwest::Client,
    /// The storage URL with the container the bench writes to.
    container_url: String,
    token: String,
}

impl SwiftEndpoint {
    /// Logs in with Swift v1 auth and creates a fresh container.
    async fn connect(auth_url: &str, user: &str, key: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::new();
        let auth = client
            .get(auth_url)
            .header("X-Auth-User", user)
            .header("X-Auth-Key", key)
            .send()
            .await
            .with_context(|| format!("cannot reach the Swift auth URL {auth_url}"))?;
        ensure!(
            auth.status().is_success(),
            "Swift at {auth_url} refused {user}: {}",
            auth.status()
        );
        let header = |name: &str| -> anyhow::Result<String> {
            Ok(auth
                .headers()
                .get(name)
                .with_context(|| format!("the auth answer has no {name}"))?
                .to_str()?
                .to_owned())
        };
        let (storage_url, token) = (header("x-storage-url")?, header("x-auth-token")?);
        Self::with_new_container(client, &storage_url, token).await
    }

    async fn with_new_container(
        client: reqwest::Client,
        storage_url: &str,
        token: String,
    ) -> anyhow::Result<Self> {
        let container_url = format!("{storage_url}/bench-{}", Uuid::new_v4().simple());
        let endpoint = Self {
            client,
            container_url,
            token,
        };
        let created = endpoint.request(Method::PUT, "").send().await?;
        ensure!(
            created.status().is_success(),
            "cannot create the container: {}",
            created.status()
        );
        Ok(endpoint)
    }

    fn request(&self, method: Method, object: &str) -> RequestBuilder {
        let url = match object {
            "" => self.container_url.clone(),
            _ => format!("{}/{object}", self.container_url),
        };
        self.client
            .request(method, url)
            .header("X-Auth-Token", &self.token)
    }

    async fn put_objects(&self, names: Names, body: Bytes) -> anyhow::Result<Duration> {
        let endpoint = self.clone();
        run_concurrently(names.count, move |i| {
            let request = endpoint
                .request(Method::PUT, &names.name(i))
                .body(body.clone());
            async move {
                let response = request.send().await?;
                ensure!(
                    response.status() == 201,
                    "PUT answered {}",
                    response.status()
                );
                Ok(())
            }
        })
        .await
    }

    async fn get_objects(&self, names: Names, size: usize) -> anyhow::Result<Duration> {
        let endpoint = self.clone();
        run_concurrently(names.count, move |i| {
            let request = endpoint.request(Method::GET, &names.name(i));
            async move {
                let bytes = request.send().await?.error_for_status()?.bytes().await?;
                ensure!(bytes.len() == size, "GET returned {} bytes", bytes.len());
                Ok(())
            }
        })
        .await
    }

    async fn put_stream(&self, block: &Bytes, blocks: usize) -> anyhow::Result<Duration> {
        let body = std::iter::repeat_n(block.clone(), blocks).map(Ok::<_, std::io::Error>);
        let started = Instant::now();
        let response = self
            .request(Method::PUT, "stream")
            .body(reqwest::Body::wrap_stream(futures::stream::iter(body)))
            .send()
            .await?;
        ensure!(
            response.status() == 201,
            "stream PUT answered {}",
            response.status()
        );
        Ok(started.elapsed())
    }

    async fn get_stream(&self, expected: usize) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let mut body = self
            .request(Method::GET, "stream")
            .send()
            .await?
            .error_for_status()?
            .bytes_stream();
        let mut received = 0;
        while let Some(chunk) = body.try_next().await? {
            received += chunk.len();
        }
        ensure!(received == expected, "stream GET returned {received} bytes");
        Ok(started.elapsed())
    }

    /// Deletes what the bench stored, so a real Swift is left as it was.
    async fn remove_container(&self, objects: Vec<String>) -> anyhow::Result<()> {
        let objects = Arc::new(objects);
        let endpoint = self.clone();
        let names = Arc::clone(&objects);
        run_concurrently(objects.len(), move |i| {
            let request = endpoint.request(Method::DELETE, &names[i]);
            async move {
                request.send().await?;
                Ok(())
            }
        })
        .await?;
        self.request(Method::DELETE, "")
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }
}

/// The object names of one round of a workload: `<label>-<round>-<index>`.
#[derive(Clone, Copy)]
struct Names {
    label: &'static str,
    round: usize,
    count: usize,
}

impl Names {
    fn name(&self, index: usize) -> String {
        format!("{}-{}-{index}", self.label, self.round)
    }
}

/// The same bytes straight to the file system, as the blob store writes them:
/// a temporary file, renamed into place once complete (and fsynced first when
/// `durable`).
struct FileSystemBaseline {
    dir: PathBuf,
    durable: bool,
}

impl FileSystemBaseline {
    fn new(parent: &Path, durable: bool) -> anyhow::Result<Arc<Self>> {
        let dir = parent.join(if durable { "durable" } else { "volatile" });
        std::fs::create_dir_all(dir.join("tmp"))?;
        Ok(Arc::new(Self { dir, durable }))
    }

    /// Writes `blocks` to `name` in the calling (blocking) thread.
    fn write_blocking(
        &self,
        name: &str,
        blocks: impl Iterator<Item = Bytes>,
    ) -> std::io::Result<()> {
        let partial = self.dir.join("tmp").join(name);
        let mut file = std::fs::File::create(&partial)?;
        for block in blocks {
            file.write_all(&block)?;
        }
        if self.durable {
            file.sync_all()?;
        }
        std::fs::rename(partial, self.dir.join(name))
    }

    /// Reads `name` in the calling (blocking) thread and returns its length.
    fn read_blocking(&self, name: &str, buffer: &mut [u8]) -> std::io::Result<usize> {
        let mut file = std::fs::File::open(self.dir.join(name))?;
        let mut total = 0;
        loop {
            match file.read(buffer)? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }

    async fn put_objects(self: &Arc<Self>, names: Names, body: Bytes) -> anyhow::Result<Duration> {
        let baseline = Arc::clone(self);
        run_concurrently(names.count, move |i| {
            let (baseline, body) = (Arc::clone(&baseline), body.clone());
            async move {
                tokio::task::spawn_blocking(move || {
                    baseline.write_blocking(&names.name(i), std::iter::once(body))
                })
                .await??;
                Ok(())
            }
        })
        .await
    }

    async fn get_objects(self: &Arc<Self>, names: Names, size: usize) -> anyhow::Result<Duration> {
        let baseline = Arc::clone(self);
        run_concurrently(names.count, move |i| {
            let baseline = Arc::clone(&baseline);
            async move {
                let read = tokio::task::spawn_blocking(move || {
                    baseline.read_blocking(&names.name(i), &mut vec![0; size.max(64 * 1024)])
                })
                .await??;
                ensure!(read == size, "read {read} bytes");
                Ok(())
            }
        })
        .await
    }

    async fn put_stream(
        self: &Arc<Self>,
        block: &Bytes,
        blocks: usize,
    ) -> anyhow::Result<Duration> {
        let (baseline, block) = (Arc::clone(self), block.clone());
        let started = Instant::now();
        tokio::task::spawn_blocking(move || {
            baseline.write_blocking("stream", std::iter::repeat_n(block, blocks))
        })
        .await??;
        Ok(started.elapsed())
    }

    async fn get_stream(self: &Arc<Self>, expected: usize) -> anyhow::Result<Duration> {
        let baseline = Arc::clone(self);
        let started = Instant::now();
        let read = tokio::task::spawn_blocking(move || {
            baseline.read_blocking("stream", &mut vec![0; MIB])
        })
        .await??;
        ensure!(read == expected, "read {read} bytes");
        Ok(started.elapsed())
    }
}

/// The shortest time of each target over the rounds of one workload.
#[derive(Default)]
struct Fastest {
    proxy: Option<Duration>,
    durable: Option<Duration>,
    volatile: Option<Duration>,
    http_floor: Option<Duration>,
    swift: Option<Duration>,
    /// GETs with the page cache dropped first.
    cold_proxy: Option<Duration>,
    cold_durable: Option<Duration>,
    /// The MD5 of what a PUT round stored, alone.
    md5: Option<Duration>,
}

/// Keeps the shorter of `slot` and `elapsed`: on a shared machine the fastest
/// round is the one least disturbed by others.
fn keep_fastest(slot: &mut Option<Duration>, elapsed: Option<Duration>) {
    if let Some(elapsed) = elapsed {
        *slot = Some(slot.map_or(elapsed, |fastest| fastest.min(elapsed)));
    }
}

/// What one timing of a workload did, `amount` objects or MB, and the unit
/// of its rate.
#[derive(Clone, Copy)]
struct Work {
    unit: &'static str,
    amount: f64,
}

impl Work {
    fn rate(self, elapsed: Option<Duration>) -> Option<f64> {
        elapsed.map(|e| self.amount / e.as_secs_f64())
    }

    fn figure(self, rate: f64) -> String {
        format!("{rate:.1} {}", self.unit)
    }
}

/// One workload: its name, what each timing did, its PUTs and its GETs.
struct Workload {
    name: String,
    work: Work,
    put: Fastest,
    get: Fastest,
}

impl Workload {
    fn print(&self) {
        self.put.print(&format!("PUT {}", self.name), self.work);
        self.get.print(&format!("GET {}", self.name), self.work);
    }
}

impl Fastest {
    /// Prints the rates, given the amount of work done per timing.
    fn print(&self, workload: &str, work: Work) {
        let (Some(proxy), Some(durable), Some(volatile), Some(http_floor)) = (
            work.rate(self.proxy),
            work.rate(self.durable),
            work.rate(self.volatile),
            work.rate(self.http_floor),
        ) else {
            return;
        };
        print!(
            "{workload:<22} {:>15} {:>15} {:>6.3} {:>15} {:>6.3} {:>15} {:>6.3}",
            work.figure(proxy),
            work.figure(durable),
            proxy / durable,
            work.figure(volatile),
            proxy / volatile,
            work.figure(http_floor),
            proxy / http_floor,
        );
        if let Some(swift) = work.rate(self.swift) {
            print!(" {:>15} {:>11.2}", work.figure(swift), proxy / swift);
        }
        println!();
    }
}

fn print_header(title: &str, with_swift: bool) {
    print!(
        "{title:<22} {:>15} {:>15} {:>6} {:>15} {:>6} {:>15} {:>6}",
        "proxy", "fs durable", "ratio", "fs no fsync", "ratio", "HTTP floor", "ratio"
    );
    if with_swift {
        print!(" {:>15} {:>11}", "real Swift", "proxy/Swift");
    }
    println!();
}

/// Prints the proxy beside one limit, one row per workload, in the columns
/// of the main table.
fn print_against_limit(
    title: &str,
    limit: &str,
    rows: impl IntoIterator<Item = (String, Work, Option<Duration>, Option<Duration>)>,
) {
    println!("{title:<22} {:>15} {limit:>15} {:>6}", "proxy", "ratio");
    for (workload, work, proxy, against) in rows {
        if let (Some(proxy), Some(against)) = (work.rate(proxy), work.rate(against)) {
            println!(
                "{workload:<22} {:>15} {:>15} {:>6.3}",
                work.figure(proxy),
                work.figure(against),
                proxy / against,
            );
        }
    }
}

/// A real Swift to compare with, when the environment names one.
async fn real_swift() -> anyhow::Result<Option<SwiftEndpoint>> {
    let variable = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(auth_url), Some(user), Some(key)) = (
        variable("NIMBUS_BENCH_SWIFT_AUTH_URL"),
        variable("NIMBUS_BENCH_SWIFT_USER"),
        variable("NIMBUS_BENCH_SWIFT_KEY"),
    ) else {
        println!(
            "(no real Swift to compare with: set NIMBUS_BENCH_SWIFT_AUTH_URL, \
             NIMBUS_BENCH_SWIFT_USER and NIMBUS_BENCH_SWIFT_KEY, e.g. from \
             `scripts/real-swift.sh env`)"
        );
        return Ok(None);
    };
    let endpoint = SwiftEndpoint::connect(&auth_url, &user, &key)
        .await
        .context("the real Swift named by NIMBUS_BENCH_SWIFT_* is not usable")?;
    Ok(Some(endpoint))
}

/// Runs `measure` on the real Swift, when there is one.
async fn on_swift<F, Fut>(
    swift: &Option<SwiftEndpoint>,
    measure: F,
) -> anyhow::Result<Option<Duration>>
where
    F: FnOnce(SwiftEndpoint) -> Fut,
    Fut: Future<Output = anyhow::Result<Duration>>,
{
    match swift {
        Some(swift) => Ok(Some(measure(swift.clone()).await?)),
        None => Ok(None),
    }
}

/// Empties the kernel's page cache, dentries and inodes; dirty pages are
/// written out first, as only clean ones can be dropped. Needs root.
async fn drop_page_cache() -> anyhow::Result<()> {
    tokio::task::spawn_blocking(|| {
        let synced = std::process::Command::new("sync")
            .status()
            .context("cannot run sync")?;
        ensure!(synced.success(), "sync failed: {synced}");
        std::fs::write("/proc/sys/vm/drop_caches", "3")
            .context("cannot write 3 to /proc/sys/vm/drop_caches")
    })
    .await?
}

/// The kernel's "Cached" figure, in MiB.
fn page_cache_mib() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|line| line.starts_with("Cached:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// Whether the cold rounds can run: drops the page cache once and says what
/// that did, or why the cold rows are skipped.
async fn page_cache_droppable() -> bool {
    let before = page_cache_mib();
    match drop_page_cache().await {
        Ok(()) => {
            let mib = |m: Option<u64>| m.map_or("?".into(), |m| m.to_string());
            println!(
                "(cold rows: page cache dropped before each of their rounds; \
                 the first drop took it from {} to {} MiB)",
                mib(before),
                mib(page_cache_mib())
            );
            true
        }
        Err(error) => {
            println!("(cold rows skipped: dropping the page cache takes root: {error:#})");
            false
        }
    }
}

/// Runs `measure` with the page cache dropped first, when that is permitted.
async fn cold<Fut>(permitted: bool, measure: Fut) -> anyhow::Result<Option<Duration>>
where
    Fut: Future<Output = anyhow::Result<Duration>>,
{
    if !permitted {
        return Ok(None);
    }
    drop_page_cache().await?;
    Ok(Some(measure.await?))
}

/// The MD5 of `count` copies of `body`, one digest each, hashed by
/// `CONCURRENCY` tasks directly on the runtime's worker threads: every core
/// hashing and nothing else.
async fn md5_objects(count: usize, body: Bytes) -> anyhow::Result<Duration> {
    run_concurrently(count, move |_| {
        let body = body.clone();
        async move {
            std::hint::black_box(Md5::digest(&body));
            Ok(())
        }
    })
    .await
}

/// The MD5 of `blocks` copies of `block` as one stream, on one thread.
async fn md5_stream(block: &Bytes, blocks: usize) -> anyhow::Result<Duration> {
    let block = block.clone();
    let started = Instant::now();
    tokio::task::spawn_blocking(move || {
        let mut md5 = Md5::new();
        for _ in 0..blocks {
            md5.update(&block);
        }
        std::hint::black_box(md5.finalize());
    })
    .await?;
    Ok(started.elapsed())
}

/// Serves the HTTP floor: PUT drains the body and remembers only its length,
/// GET answers that many bytes from one block held in memory.
async fn http_floor(client: reqwest::Client) -> anyhow::Result<SwiftEndpoint> {
    type Lengths = web::Data<Mutex<HashMap<String, usize>>>;
    async fn put(request: HttpRequest, mut body: web::Payload, lengths: Lengths) -> HttpResponse {
        let mut length = 0;
        while let Some(Ok(chunk)) = body.next().await {
            length += chunk.len();
        }
        let name = request.path().to_owned();
        lengths.lock().unwrap().insert(name, length);
        HttpResponse::Created().finish()
    }
    async fn get(request: HttpRequest, lengths: Lengths, block: web::Data<Bytes>) -> HttpResponse {
        let Some(&length) = lengths.lock().unwrap().get(request.path()) else {
            return HttpResponse::NotFound().finish();
        };
        let block = block.get_ref().clone();
        let parts = (0..length.div_ceil(block.len())).map(move |i| {
            let start = i * block.len();
            Ok::<_, std::io::Error>(block.slice(..(length - start).min(block.len())))
        });
        HttpResponse::Ok()
            .content_type("application/octet-stream")
            .no_chunking(length as u64)
            .streaming(futures::stream::iter(parts))
    }

    let lengths: Lengths = web::Data::new(Mutex::new(HashMap::new()));
    let block = web::Data::new(pseudo_random_bytes(MIB));
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(lengths.clone())
            .app_data(block.clone())
            .route("/{object:.*}", web::put().to(put))
            .route("/{object:.*}", web::get().to(get))
    })
    .tcp_nodelay(true)
    .listen(listener)?
    .disable_signals()
    .run();
    tokio::spawn(server);
    SwiftEndpoint::with_new_container(client, &format!("http://127.0.0.1:{port}"), String::new())
        .await
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let app = helpers::spawn_app().await;
    let session = app.login_new_user("bench").await;
    let proxy =
        SwiftEndpoint::with_new_container(app.client.clone(), &session.storage_url, session.token)
            .await?;
    let swift = real_swift().await?;
    let floor = http_floor(app.client.clone()).await?;
    // Beside the proxy's blob root, so both are on the same file system.
    let baseline_dir =
        tempfile::tempdir_in(app.objects_dir.path().parent().unwrap_or(Path::new(".")))?;
    let durable = FileSystemBaseline::new(baseline_dir.path(), true)?;
    let volatile = FileSystemBaseline::new(baseline_dir.path(), false)?;
    let mut swift_objects = Vec::new();
    let cold_reads = page_cache_droppable().await;
    let mut workloads = Vec::new();

    let rounds = setting("NIMBUS_BENCH_ROUNDS", 3).max(1);
    println!("fastest of {rounds} rounds; ratios are proxy / other");
    print_header("concurrency 8", swift.is_some());
    let sizes = [
        ("4KiB", 4 * 1024, setting("NIMBUS_BENCH_SMALL", 2000)),
        ("1MiB", MIB, setting("NIMBUS_BENCH_LARGE", 200)),
    ];
    for (label, size, count) in sizes {
        let body = pseudo_random_bytes(size);
        let (mut put, mut get) = (Fastest::default(), Fastest::default());
        for round in 0..rounds {
            let names = Names {
                label,
                round,
                count,
            };
            keep_fastest(
                &mut put.proxy,
                Some(proxy.put_objects(names, body.clone()).await?),
            );
            keep_fastest(
                &mut put.durable,
                Some(durable.put_objects(names, body.clone()).await?),
            );
            keep_fastest(
                &mut put.volatile,
                Some(volatile.put_objects(names, body.clone()).await?),
            );
            keep_fastest(
                &mut put.http_floor,
                Some(floor.put_objects(names, body.clone()).await?),
            );
            keep_fastest(&mut put.md5, Some(md5_objects(count, body.clone()).await?));
            let body = body.clone();
            let swift_put = on_swift(&swift, |s| async move { s.put_objects(names, body).await });
            keep_fastest(&mut put.swift, swift_put.await?);
            swift_objects.extend((0..count).map(|i| names.name(i)));
        }
        for round in 0..rounds {
            let names = Names {
                label,
                round,
                count,
            };
            keep_fastest(&mut get.proxy, Some(proxy.get_objects(names, size).await?));
            keep_fastest(
                &mut get.durable,
                Some(durable.get_objects(names, size).await?),
            );
            keep_fastest(
                &mut get.volatile,
                Some(volatile.get_objects(names, size).await?),
            );
            keep_fastest(
                &mut get.http_floor,
                Some(floor.get_objects(names, size).await?),
            );
            let swift_get = on_swift(&swift, |s| async move { s.get_objects(names, size).await });
            keep_fastest(&mut get.swift, swift_get.await?);
            keep_fastest(
                &mut get.cold_proxy,
                cold(cold_reads, proxy.get_objects(names, size)).await?,
            );
            keep_fastest(
                &mut get.cold_durable,
                cold(cold_reads, durable.get_objects(names, size)).await?,
            );
        }
        let workload = Workload {
            name: format!("{label} × {count}"),
            work: Work {
                unit: "obj/s",
                amount: count as f64,
            },
            put,
            get,
        };
        workload.print();
        workloads.push(workload);
    }

    let stream_mib = setting("NIMBUS_BENCH_STREAM_MIB", 256);
    let stream_bytes = stream_mib * MIB;
    let block = pseudo_random_bytes(MIB);
    let (mut put, mut get) = (Fastest::default(), Fastest::default());
    for _ in 0..rounds {
        keep_fastest(
            &mut put.proxy,
            Some(proxy.put_stream(&block, stream_mib).await?),
        );
        keep_fastest(
            &mut put.durable,
            Some(durable.put_stream(&block, stream_mib).await?),
        );
        keep_fastest(
            &mut put.volatile,
            Some(volatile.put_stream(&block, stream_mib).await?),
        );
        keep_fastest(
            &mut put.http_floor,
            Some(floor.put_stream(&block, stream_mib).await?),
        );
        keep_fastest(&mut put.md5, Some(md5_stream(&block, stream_mib).await?));
        let block = block.clone();
        let swift_put = on_swift(
            &swift,
            |s| async move { s.put_stream(&block, stream_mib).await },
        );
        keep_fastest(&mut put.swift, swift_put.await?);
        keep_fastest(&mut get.proxy, Some(proxy.get_stream(stream_bytes).await?));
        keep_fastest(
            &mut get.durable,
            Some(durable.get_stream(stream_bytes).await?),
        );
        keep_fastest(
            &mut get.volatile,
            Some(volatile.get_stream(stream_bytes).await?),
        );
        keep_fastest(
            &mut get.http_floor,
            Some(floor.get_stream(stream_bytes).await?),
        );
        let swift_get = on_swift(&swift, |s| async move { s.get_stream(stream_bytes).await });
        keep_fastest(&mut get.swift, swift_get.await?);
        keep_fastest(
            &mut get.cold_proxy,
            cold(cold_reads, proxy.get_stream(stream_bytes)).await?,
        );
        keep_fastest(
            &mut get.cold_durable,
            cold(cold_reads, durable.get_stream(stream_bytes)).await?,
        );
    }
    print_header("single stream", swift.is_some());
    let workload = Workload {
        name: format!("{stream_mib} MiB"),
        work: Work {
            unit: "MB/s",
            amount: stream_bytes as f64 / 1e6,
        },
        put,
        get,
    };
    workload.print();
    workloads.push(workload);

    println!();
    if cold_reads {
        print_against_limit(
            "page cache dropped",
            "fs durable",
            workloads.iter().map(|w| {
                let (proxy, durable) = (w.get.cold_proxy, w.get.cold_durable);
                (format!("GET {} cold", w.name), w.work, proxy, durable)
            }),
        );
        println!();
    }
    print_against_limit(
        "ETag limit",
        "MD5 alone",
        workloads
            .iter()
            .map(|w| (format!("PUT {}", w.name), w.work, w.put.proxy, w.put.md5)),
    );
    println!(
        "(MD5 alone: the same bytes hashed and nothing else, {CONCURRENCY} tasks on {} \
         worker threads of {} cores; the stream on one thread)",
        tokio::runtime::Handle::current().metrics().num_workers(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );

    if let Some(swift) = swift {
        swift_objects.push("stream".into());
        swift.remove_container(swift_objects).await?;
    }
    Ok(())
}
