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
//! 256 MiB object. The baseline does the same with `tokio::fs` in a temporary
//! directory on the same file system, without fsync (the proxy does not fsync
//! either). `NIMBUS_BENCH_SMALL`, `NIMBUS_BENCH_LARGE` and
//! `NIMBUS_BENCH_STREAM_MIB` change the object counts (2000, 200) and the
//! stream size (256).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use bytes::Bytes;
use futures::TryStreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

struct Row {
    workload: String,
    proxy: f64,
    file_system: f64,
    unit: &'static str,
}

impl Row {
    fn print(&self) {
        println!(
            "{:<28} {:>10.1} {unit:<6} {:>10.1} {unit:<6} {:>6.3}",
            self.workload,
            self.proxy,
            self.file_system,
            self.proxy / self.file_system,
            unit = self.unit,
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let app = helpers::spawn_app().await;
    let session = Arc::new(app.login_new_user("bench").await);
    let client = app.client.clone();
    let created = session.request(&client, "PUT", "bench").send().await?;
    ensure!(created.status().is_success(), "cannot create the container");
    let baseline_dir = tempfile::tempdir()?;
    let baseline = Arc::new(baseline_dir.path().to_owned());

    println!(
        "{:<28} {:>17} {:>17} {:>6}",
        "workload (concurrency 8)", "proxy", "file system", "ratio"
    );
    let sizes = [
        ("4 KiB", 4 * 1024, setting("NIMBUS_BENCH_SMALL", 2000)),
        ("1 MiB", MIB, setting("NIMBUS_BENCH_LARGE", 200)),
    ];
    for (label, size, count) in sizes {
        let body = pseudo_random_bytes(size);
        let name = move |index: usize| format!("{label}-{index}").replace(' ', "");

        let (s, c, b) = (Arc::clone(&session), client.clone(), body.clone());
        let proxy_put = run_concurrently(count, move |i| {
            let request = s
                .request(&c, "PUT", &format!("bench/{}", name(i)))
                .body(b.clone());
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
        .await?;
        let (s, c) = (Arc::clone(&session), client.clone());
        let proxy_get = run_concurrently(count, move |i| {
            let request = s.request(&c, "GET", &format!("bench/{}", name(i)));
            async move {
                let bytes = request.send().await?.error_for_status()?.bytes().await?;
                ensure!(bytes.len() == size, "GET returned {} bytes", bytes.len());
                Ok(())
            }
        })
        .await?;
        let (dir, b) = (Arc::clone(&baseline), body.clone());
        let fs_put = run_concurrently(count, move |i| {
            let (path, b) = (dir.join(name(i)), b.clone());
            async move { Ok(tokio::fs::write(path, b).await?) }
        })
        .await?;
        let dir = Arc::clone(&baseline);
        let fs_get = run_concurrently(count, move |i| {
            let path = dir.join(name(i));
            async move {
                let bytes = tokio::fs::read(path).await?;
                ensure!(bytes.len() == size, "read {} bytes", bytes.len());
                Ok(())
            }
        })
        .await?;
        let per_second = |elapsed: Duration| count as f64 / elapsed.as_secs_f64();
        for (verb, proxy, file_system) in [("PUT", proxy_put, fs_put), ("GET", proxy_get, fs_get)] {
            Row {
                workload: format!("{verb} {label} × {count}"),
                proxy: per_second(proxy),
                file_system: per_second(file_system),
                unit: "obj/s",
            }
            .print();
        }
    }

    let stream_mib = setting("NIMBUS_BENCH_STREAM_MIB", 256);
    let block = pseudo_random_bytes(MIB);
    let megabytes_per_second =
        |elapsed: Duration| (stream_mib * MIB) as f64 / 1e6 / elapsed.as_secs_f64();

    let blocks = std::iter::repeat_n(block.clone(), stream_mib).map(Ok::<_, std::io::Error>);
    let started = Instant::now();
    let response = session
        .request(&client, "PUT", "bench/stream")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(blocks)))
        .send()
        .await?;
    ensure!(
        response.status() == 201,
        "stream PUT answered {}",
        response.status()
    );
    let proxy_put = started.elapsed();

    let started = Instant::now();
    let mut body = session
        .request(&client, "GET", "bench/stream")
        .send()
        .await?
        .error_for_status()?
        .bytes_stream();
    let mut received = 0;
    while let Some(chunk) = body.try_next().await? {
        received += chunk.len();
    }
    ensure!(
        received == stream_mib * MIB,
        "stream GET returned {received} bytes"
    );
    let proxy_get = started.elapsed();

    let path = baseline.join("stream");
    let started = Instant::now();
    let mut file = tokio::fs::File::create(&path).await?;
    for _ in 0..stream_mib {
        file.write_all(&block).await?;
    }
    file.flush().await?;
    drop(file);
    let fs_put = started.elapsed();
    let started = Instant::now();
    let mut file = tokio::fs::File::open(&path)
        .await
        .context("open the baseline file")?;
    let (mut buffer, mut read) = (vec![0; MIB], 0);
    loop {
        let n = file.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        read += n;
    }
    ensure!(read == stream_mib * MIB, "read {read} bytes");
    let fs_get = started.elapsed();

    println!(
        "{:<28} {:>17} {:>17} {:>6}",
        "single stream", "proxy", "file system", "ratio"
    );
    for (verb, proxy, file_system) in [("PUT", proxy_put, fs_put), ("GET", proxy_get, fs_get)] {
        Row {
            workload: format!("{verb} {stream_mib} MiB"),
            proxy: megabytes_per_second(proxy),
            file_system: megabytes_per_second(file_system),
            unit: "MB/s",
        }
        .print();
    }
    Ok(())
}
