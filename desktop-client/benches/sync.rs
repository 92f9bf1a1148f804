//! Sync benchmarks against an in-process metadata server and proxy (same
//! set-up as the end-to-end tests: local PostgreSQL and RabbitMQ).
//!
//! 1. Many small files: time for `NIMBUS_BENCH_FILES` (default 10,000)
//!    files of 4 KiB written on device A to all appear on device B (A syncs
//!    in rounds, B runs the real watch + push loop).
//! 2. Save-to-appearance latency: both devices run the loop; a small file
//!    saved on A, until B has it; p50 and p99 over 50 files.
//! 3. Incremental upload: bytes sent after a 1-byte edit in the middle of a
//!    64 MiB file, next to the file size.
//!
//! `cargo bench -p nimbus-client --bench sync`

#[path = "../tests/e2e/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::time::{Duration, Instant};

use helpers::{Cluster, random_bytes, write_random_file};

fn count_files(root: &std::path::Path) -> usize {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".nimbus")
        .flatten()
        .filter(|e| e.file_type().is_file())
        .count()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn many_small_files(cluster: &Cluster) {
    let files: usize = std::env::var("NIMBUS_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    cluster.add_user("bench-many").await;
    let a = cluster.device("bench-many", "a").await;
    let b = cluster.device("bench-many", "b").await;
    a.sync().await;
    let running_b = b.start().await;
    for i in 0..files {
        let dir = a.root.join(format!("dir{:03}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&dir).unwrap();
        }
        std::fs::write(
            dir.join(format!("file{i:05}.txt")),
            random_bytes(4096, i as u64),
        )
        .unwrap();
    }
    let start = Instant::now();
    a.sync().await;
    let uploaded = start.elapsed();
    let deadline = start + Duration::from_secs(3600);
    while count_files(&b.root) < files {
        assert!(Instant::now() < deadline, "device B never got every file");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let total = start.elapsed();
    running_b.stop().await;
    println!(
        "{files} files of 4 KiB: uploaded and committed by A in {:.1} s, all on B after {:.1} s ({:.0} files/s)",
        uploaded.as_secs_f64(),
        total.as_secs_f64(),
        files as f64 / total.as_secs_f64()
    );
}

async fn latency(cluster: &Cluster) {
    cluster.add_user("bench-latency").await;
    let a = cluster.device("bench-latency", "a").await;
    let b = cluster.device("bench-latency", "b").await;
    let running_a = a.start().await;
    let running_b = b.start().await;
    // Let both finish their first round.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut samples = Vec::new();
    for i in 0..50 {
        let name = format!("note{i:02}.txt");
        let content = format!("note {i}");
        let start = Instant::now();
        std::fs::write(a.root.join(&name), &content).unwrap();
        let deadline = start + Duration::from_secs(120);
        loop {
            if std::fs::read(b.root.join(&name)).ok().as_deref() == Some(content.as_bytes()) {
                break;
            }
            assert!(Instant::now() < deadline, "{name} never reached B");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        samples.push(start.elapsed());
    }
    running_a.stop().await;
    running_b.stop().await;
    samples.sort();
    println!(
        "save-to-appearance latency over {} small files: p50 {:.0} ms, p99 {:.0} ms",
        samples.len(),
        percentile(&samples, 0.5).as_secs_f64() * 1000.0,
        percentile(&samples, 0.99).as_secs_f64() * 1000.0
    );
}

async fn incremental(cluster: &Cluster) {
    cluster.add_user("bench-delta").await;
    let a = cluster.device("bench-delta", "a").await;
    let size: u64 = 64 << 20;
    let path = a.root.join("large.bin");
    write_random_file(&path, size, 5);
    let first = a.sync().await;
    let mut data = std::fs::read(&path).unwrap();
    let middle = data.len() / 2;
    data[middle] ^= 0xFF;
    std::fs::write(&path, &data).unwrap();
    let second = a.sync().await;
    println!(
        "1-byte edit of a {} MiB file: first upload {} chunks / {:.1} MiB, after the edit {} chunks / {} KiB sent (ratio {:.4})",
        size >> 20,
        first.chunks_put,
        first.bytes_put as f64 / (1 << 20) as f64,
        second.chunks_put,
        second.bytes_put / 1024,
        second.bytes_put as f64 / size as f64
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let cluster = Cluster::spawn().await;
        incremental(&cluster).await;
        latency(&cluster).await;
        many_small_files(&cluster).await;
        cluster.stop().await;
    });
}
