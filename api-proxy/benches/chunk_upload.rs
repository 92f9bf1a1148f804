//! The proxy's chunk upload path as the desktop client drives it, beside its
//! ceilings measured in the same run. A benchmark, not a test: it prints
//! figures and ratios, and asserts only that every chunk was stored.
//!
//! ```text
//! cargo bench -p nimbus-proxy --bench chunk_upload
//! ```
//!
//! The chunks are the client's own: `NIMBUS_BENCH_CHUNK_MIB` (512) MiB of
//! incompressible bytes cut and sealed by `nimbus_chunks::Chunker` with the
//! default parameters (64 KiB / 256 KiB / 1 MiB), as
//! `desktop-client/src/transfer.rs` uploads a file. They are sent the way it
//! sends them: [`CONCURRENCY`] chunks at a time, a chunk over
//! [`PUT_WITHOUT_HEAD_MAX`] first asked with `HEAD` (404: not stored yet),
//! then each `PUT` with `If-None-Match: *`.
//!
//! The proxy is the release binary (`nimbus-proxy`, built by `cargo bench`)
//! in a process of its own, with the `fs` store in a temporary directory and
//! its own database, so that its CPU time (`/proc/<pid>/stat`) is its alone.
//! The metadata server it authenticates with runs in this process, on the
//! local PostgreSQL and RabbitMQ, as in the integration tests. The CPU of
//! the PostgreSQL backends serving the proxy is read the same way, from the
//! backends `pg_stat_activity` lists for the proxy's database.
//!
//! Measured in the same run, on the same bytes:
//!
//! * **MD5 alone**: Swift's ETag is the MD5 of each object, so no PUT can go
//!   faster than hashing; one digest per chunk, on as many threads as the
//!   machine has cores.
//! * **fs durable**: a plain program storing each chunk as the proxy's blob
//!   store does (a temporary file, written, fsynced, renamed into place, the
//!   directory fsynced so that the rename survives a crash), on the same
//!   file system, [`CONCURRENCY`] threads. What durable storage costs
//!   without HTTP, authorization or an index.
//! * **client**: the CPU the desktop client spends producing the chunks
//!   (FastCDC cut, BLAKE3 ids and content hash, zstd, and for an end-to-end
//!   encrypted workspace XChaCha20-Poly1305), on one thread as it does. The
//!   proxy should spend less CPU per byte storing them than the client spent
//!   making them.
//!
//! Each of `NIMBUS_BENCH_ROUNDS` (3) rounds runs every target in turn (the
//! proxy into a fresh container), and the fastest round of each is printed:
//! on a shared machine that is the round least disturbed by other work.
//! `NIMBUS_BENCH_OTHER_PROXY` names another `nimbus-proxy` binary (say, a
//! release build of the commit before a change) that then takes its turn in
//! every round beside this build's, in a process and database of its own.
//! `NIMBUS_BENCH_COSTS_OUT` names a JSON file to write this build's cost per
//! chunk `PUT` to, for the load model (`bench/load-model/`).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use md5::{Digest, Md5};
use nimbus_chunks::{Chunker, ChunkerParams, WorkspaceKeys};
use reqwest::{Method, StatusCode};
use uuid::Uuid;

// The integration tests' helpers; the bench uses only part of them.
#[allow(dead_code)]
#[path = "../tests/api/helpers.rs"]
mod helpers;

// The server benchmarks' reader of `/proc/<pid>/stat`.
#[path = "../../server/benches/support/cpu.rs"]
mod cpu;
use cpu::process_cpu;

/// Chunks in flight at once: the desktop client's `NimbusRemote::concurrency`.
const CONCURRENCY: usize = 8;
/// Sealed chunks up to this size skip the `HEAD`: the desktop client's
/// `PUT_WITHOUT_HEAD_MAX`.
const PUT_WITHOUT_HEAD_MAX: usize = 64 * 1024;
const MIB: usize = 1 << 20;
const GIB: f64 = (1u64 << 30) as f64;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Incompressible bytes, like the media files that make most of a sync
/// folder's volume.
fn random_data(len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    blake3::Hasher::new_derive_key("nimbus-proxy chunk_upload bench")
        .finalize_xof()
        .fill(&mut out);
    out
}

/// CPU time of the calling thread (scheduler run time, nanoseconds).
fn thread_cpu() -> anyhow::Result<Duration> {
    let schedstat = std::fs::read_to_string("/proc/thread-self/schedstat")?;
    let nanos = schedstat
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .context("unreadable /proc/thread-self/schedstat")?;
    Ok(Duration::from_nanos(nanos))
}

/// The client's chunks of one file, and what producing them cost.
struct ClientChunks {
    chunks: Arc<Vec<(String, Bytes)>>,
    plain_bytes: u64,
    sealed_bytes: u64,
}

/// Cuts and seals `data` as the desktop client uploads a file, on this
/// thread; returns the chunks and the thread's CPU time.
fn produce_chunks(data: &[u8], keys: &WorkspaceKeys) -> anyhow::Result<(ClientChunks, Duration)> {
    let started = thread_cpu()?;
    let mut chunker = Chunker::new(data, keys, ChunkerParams::DEFAULT);
    let mut chunks = Vec::new();
    for chunk in chunker.by_ref() {
        let chunk = chunk?;
        chunks.push((chunk.id, Bytes::from(chunk.sealed)));
    }
    let (_, plain_bytes) = chunker.finish();
    let cpu = thread_cpu()? - started;
    let sealed_bytes = chunks.iter().map(|(_, body)| body.len() as u64).sum();
    let chunks = ClientChunks {
        chunks: Arc::new(chunks),
        plain_bytes,
        sealed_bytes,
    };
    Ok((chunks, cpu))
}

/// The release proxy in a child process, and a Swift session on it.
struct ProxyProcess {
    child: Child,
    app: helpers::TestApp,
    token: String,
    storage_url: String,
}

impl ProxyProcess {
    /// Starts `binary` (a `nimbus-proxy`) and logs in a new user.
    async fn start(binary: &Path) -> anyhow::Result<Self> {
        helpers::init_logging();
        let run = Uuid::new_v4().simple().to_string();
        let objects_dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut settings = helpers::proxy_settings(&run, objects_dir.path());
        settings.listen = ([127, 0, 0, 1], port).into();
        let log = tempfile::NamedTempFile::new()?.keep()?.1;
        let child = Command::new(binary)
            .env("NIMBUS_PROXY_LISTEN", settings.listen.to_string())
            .env("NIMBUS_PROXY_DATABASE_URL", &settings.database_url)
            .env("NIMBUS_PROXY_AMQP_URL", &settings.amqp_url)
            .env(
                "NIMBUS_PROXY_PUBLIC_AMQP_URL",
                settings.public_amqp_url.as_deref().unwrap_or_default(),
            )
            .env("NIMBUS_PROXY_QUEUE_PREFIX", &settings.queue_prefix)
            .env("NIMBUS_PROXY_STORAGE__SCHEME", "fs")
            .env(
                "NIMBUS_PROXY_STORAGE__OPTIONS__ROOT",
                objects_dir.path().display().to_string(),
            )
            // What a deployment logs; not the tests' RUST_LOG.
            .env_remove("RUST_LOG")
            .stdout(Stdio::from(std::fs::File::create(&log)?))
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        println!(
            "{} as pid {}, log {}",
            binary.display(),
            child.id(),
            log.display()
        );
        let address = format!("http://{}", settings.listen);
        let client = reqwest::Client::new();
        wait_until_up(&client, &address).await?;
        let metadata = helpers::start_metadata_server(&run, &address).await;
        let app = helpers::TestApp {
            address,
            client,
            metadata,
            objects_dir,
            settings,
        };
        let session = app.login_new_user("bench").await;
        Ok(Self {
            child,
            app,
            token: session.token,
            storage_url: session.storage_url,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn objects_dir(&self) -> &Path {
        self.app.objects_dir.path()
    }

    /// PIDs of the PostgreSQL backends connected to the proxy's database.
    async fn index_backends(&self) -> anyhow::Result<Vec<u32>> {
        let database = self
            .app
            .settings
            .database_url
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let admin_url = format!("{}/postgres", helpers::postgres());
        let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url).await?;
        let pids: Vec<(i32,)> =
            sqlx::query_as("SELECT pid FROM pg_stat_activity WHERE datname = $1")
                .bind(database)
                .fetch_all(&mut connection)
                .await?;
        Ok(pids.into_iter().map(|(pid,)| pid as u32).collect())
    }

    /// CPU time of each of the index's backends now.
    async fn index_cpu(&self) -> anyhow::Result<HashMap<u32, Duration>> {
        Ok(self
            .index_backends()
            .await?
            .into_iter()
            .filter_map(|pid| Some((pid, process_cpu(pid).ok()?)))
            .collect())
    }

    fn request(&self, method: Method, url: String) -> reqwest::RequestBuilder {
        self.app
            .client
            .request(method, url)
            .header("X-Auth-Token", &self.token)
    }

    async fn new_container(&self) -> anyhow::Result<String> {
        let url = format!("{}/chunks-{}", self.storage_url, Uuid::new_v4().simple());
        let created = self.request(Method::PUT, url.clone()).send().await?;
        ensure!(
            created.status().is_success(),
            "container: {}",
            created.status()
        );
        Ok(url)
    }

    /// Stores one chunk as the desktop client does (`store_chunk`).
    async fn store_chunk(&self, container: &str, id: &str, sealed: Bytes) -> anyhow::Result<()> {
        let url = format!("{container}/{id}");
        if sealed.len() > PUT_WITHOUT_HEAD_MAX {
            let head = self.request(Method::HEAD, url.clone()).send().await?;
            ensure!(
                head.status() == StatusCode::NOT_FOUND,
                "HEAD: {}",
                head.status()
            );
        }
        let put = self
            .request(Method::PUT, url)
            .header("Content-Type", "application/octet-stream")
            .header("If-None-Match", "*")
            .body(sealed)
            .send()
            .await?;
        ensure!(put.status() == StatusCode::CREATED, "PUT: {}", put.status());
        Ok(())
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_until_up(client: &reqwest::Client, address: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(answer) = client.get(format!("{address}/healthz")).send().await
            && answer.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the proxy did not answer /healthz within a minute");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One timing: how long, and the CPU it took where that is measured.
#[derive(Clone, Copy, Default)]
struct Measured {
    wall: Duration,
    cpu: Duration,
    /// PostgreSQL backends serving the proxy's index.
    index_cpu: Duration,
}

/// One round of the proxy: every chunk into a fresh container.
async fn upload_round(
    proxy: &Arc<ProxyProcess>,
    chunks: &ClientChunks,
) -> anyhow::Result<Measured> {
    let container = Arc::new(proxy.new_container().await?);
    let (cpu_before, index_before) = (process_cpu(proxy.pid())?, proxy.index_cpu().await?);
    let started = Instant::now();
    stream::iter(0..chunks.chunks.len())
        .map(Ok)
        .try_for_each_concurrent(CONCURRENCY, |i| {
            let (proxy, container, chunks) =
                (proxy.clone(), container.clone(), chunks.chunks.clone());
            async move {
                let (id, sealed) = &chunks[i];
                proxy.store_chunk(&container, id, sealed.clone()).await
            }
        })
        .await?;
    let wall = started.elapsed();
    let cpu = process_cpu(proxy.pid())? - cpu_before;
    let index_cpu = proxy
        .index_cpu()
        .await?
        .into_iter()
        .map(|(pid, now)| now.saturating_sub(index_before.get(&pid).copied().unwrap_or_default()))
        .sum();
    Ok(Measured {
        wall,
        cpu,
        index_cpu,
    })
}

/// Runs `work(index)` for every chunk on `threads` threads; returns the
/// wall time and the threads' CPU time.
fn on_threads<F>(threads: usize, count: usize, work: F) -> anyhow::Result<Measured>
where
    F: Fn(usize) -> anyhow::Result<()> + Sync,
{
    let next = AtomicUsize::new(0);
    let (next, work) = (&next, &work);
    let started = Instant::now();
    let cpu = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(move || {
                    let cpu_before = thread_cpu()?;
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        if index >= count {
                            return Ok::<_, anyhow::Error>(thread_cpu()? - cpu_before);
                        }
                        work(index)?;
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a bench thread panicked"))
            .sum::<anyhow::Result<Duration>>()
    })?;
    Ok(Measured {
        wall: started.elapsed(),
        cpu,
        index_cpu: Duration::ZERO,
    })
}

/// The MD5 of every chunk, one digest each, on every core.
fn md5_round(chunks: &ClientChunks, cores: usize) -> anyhow::Result<Measured> {
    on_threads(cores, chunks.chunks.len(), |i| {
        std::hint::black_box(Md5::digest(&chunks.chunks[i].1));
        Ok(())
    })
}

/// Every chunk stored durably by a plain program, as the blob store does:
/// a temporary file, written, fsynced, renamed into `dir`, `dir` fsynced.
fn durable_round(chunks: &ClientChunks, dir: &Path) -> anyhow::Result<Measured> {
    let partial = dir.join("tmp");
    std::fs::create_dir_all(&partial)?;
    on_threads(CONCURRENCY, chunks.chunks.len(), |i| {
        let (id, sealed) = &chunks.chunks[i];
        let temporary: PathBuf = partial.join(id);
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(sealed)?;
        file.sync_all()?;
        std::fs::rename(&temporary, dir.join(id))?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    })
}

/// Keeps the round with the shortest wall time.
fn keep_fastest(slot: &mut Option<Measured>, round: Measured) {
    if slot.is_none_or(|fastest| round.wall < fastest.wall) {
        *slot = Some(round);
    }
}

fn mb_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64()
}

fn cpu_per_gib(bytes: u64, cpu: Duration) -> f64 {
    cpu.as_secs_f64() / (bytes as f64 / GIB)
}

/// The proxies to measure: this build's, and the one
/// `NIMBUS_BENCH_OTHER_PROXY` names (another build, e.g. of the previous
/// commit), so that a change is measured against its predecessor in one run.
fn proxy_binaries() -> Vec<(String, PathBuf)> {
    let mut binaries = vec![(
        "proxy (this build)".to_owned(),
        PathBuf::from(env!("CARGO_BIN_EXE_nimbus-proxy")),
    )];
    if let Some(other) = std::env::var_os("NIMBUS_BENCH_OTHER_PROXY").filter(|v| !v.is_empty()) {
        binaries.push(("proxy (NIMBUS_BENCH_OTHER_PROXY)".to_owned(), other.into()));
    }
    binaries
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let size = setting("NIMBUS_BENCH_CHUNK_MIB", 512) * MIB;
    let rounds = setting("NIMBUS_BENCH_ROUNDS", 3).max(1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let data = random_data(size);
    let workspace = Uuid::new_v4();
    let (chunks, plain_cpu) = produce_chunks(&data, &WorkspaceKeys::plain(workspace))?;
    let encrypted_keys = tokio::task::spawn_blocking(move || {
        WorkspaceKeys::from_passphrase(workspace, "chunk upload bench")
    })
    .await??;
    let (_, encrypted_cpu) = produce_chunks(&data, &encrypted_keys)?;
    drop(data);
    let count = chunks.chunks.len();

    let mut proxies = Vec::new();
    for (label, binary) in proxy_binaries() {
        proxies.push((label, Arc::new(ProxyProcess::start(&binary).await?)));
    }
    let objects_dir = proxies[0].1.objects_dir();
    let baseline_root = tempfile::tempdir_in(objects_dir.parent().unwrap_or(Path::new(".")))?;
    println!(
        "{} MiB cut into {count} chunks (sealed: {:.1} MB, {} KiB on average), \
         {CONCURRENCY} in flight; {cores} cores, load average {} at the start",
        size / MIB,
        chunks.sealed_bytes as f64 / 1e6,
        chunks.sealed_bytes / count as u64 / 1024,
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
    );

    let mut uploaded: Vec<Option<Measured>> = vec![None; proxies.len()];
    let (mut hashed, mut written) = (None, None);
    for round in 0..rounds {
        for ((_, proxy), fastest) in proxies.iter().zip(&mut uploaded) {
            keep_fastest(fastest, upload_round(proxy, &chunks).await?);
        }
        let chunks_ref = &chunks;
        keep_fastest(
            &mut hashed,
            tokio::task::block_in_place(|| md5_round(chunks_ref, cores))?,
        );
        let dir = baseline_root.path().join(round.to_string());
        keep_fastest(
            &mut written,
            tokio::task::block_in_place(|| durable_round(chunks_ref, &dir))?,
        );
        std::fs::remove_dir_all(&dir)?;
    }
    let (hashed, written) = (hashed.expect("one round"), written.expect("one round"));

    let bytes = chunks.sealed_bytes;
    let client_cpu = [
        ("client producing them (plain)", plain_cpu),
        ("client producing them (E2E)", encrypted_cpu),
    ];
    if let Ok(path) = std::env::var("NIMBUS_BENCH_COSTS_OUT") {
        write_costs(&path, &chunks, uploaded[0].expect("one round"))?;
    }
    println!("fastest of {rounds} rounds; CPU in seconds per GiB of the file");
    for ((label, _), uploaded) in proxies.iter().zip(uploaded) {
        let uploaded = uploaded.expect("one round");
        let proxy_rate = mb_per_s(bytes, uploaded.wall);
        let proxy_cpu = cpu_per_gib(bytes, uploaded.cpu);
        println!();
        println!(
            "{:<34} {:>10} {:>10} {:>12}",
            "", "MB/s", "CPU s/GiB", "proxy/this"
        );
        println!("{label:<34} {proxy_rate:>10.1} {proxy_cpu:>10.2}");
        println!(
            "{:<34} {:>10} {:>10.2}",
            "  its PostgreSQL backends",
            "",
            cpu_per_gib(bytes, uploaded.index_cpu),
        );
        let ceiling = |name: &str, measured: Measured| {
            let rate = mb_per_s(bytes, measured.wall);
            println!(
                "{name:<34} {rate:>10.1} {:>10.2} {:>12.3}",
                cpu_per_gib(bytes, measured.cpu),
                proxy_rate / rate,
            );
        };
        ceiling(&format!("MD5 alone ({cores} threads)"), hashed);
        ceiling(&format!("fs durable ({CONCURRENCY} threads)"), written);
        for (name, cpu) in client_cpu {
            // Both per GiB of the same file: what the client read, what the
            // proxy stored (a few bytes more per chunk).
            let client = cpu_per_gib(chunks.plain_bytes, cpu);
            println!(
                "{name:<34} {:>10.1} {client:>10.2} {:>12.3}",
                mb_per_s(chunks.plain_bytes, cpu),
                proxy_cpu / client,
            );
        }
    }
    println!(
        "(proxy/this: the proxy's MB/s over the ceiling's, or its CPU per byte \
         over the client's; the client's MB/s is per second of its CPU)"
    );
    Ok(())
}

/// What one chunk `PUT` (with its `HEAD`) cost this build's proxy and its
/// index, as JSON for the load model.
fn write_costs(path: &str, chunks: &ClientChunks, uploaded: Measured) -> anyhow::Result<()> {
    let count = chunks.chunks.len() as f64;
    let per_chunk_ms = |used: Duration| used.as_secs_f64() * 1000.0 / count;
    let document = serde_json::json!({
        "source": "cargo bench -p nimbus-proxy --bench chunk_upload",
        "operations": {
            "chunk_put": {
                "calls": chunks.chunks.len(),
                "proxy_cpu_ms": per_chunk_ms(uploaded.cpu),
                "database_cpu_ms": per_chunk_ms(uploaded.index_cpu),
                "mean_chunk_bytes": chunks.sealed_bytes as f64 / count,
                "mb_per_s": mb_per_s(chunks.sealed_bytes, uploaded.wall),
            }
        }
    });
    std::fs::write(path, serde_json::to_vec_pretty(&document)?)
        .with_context(|| format!("write {path}"))?;
    println!("costs written to {path}");
    Ok(())
}
