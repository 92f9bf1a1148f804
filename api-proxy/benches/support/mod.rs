//! What the proxy's benchmarks of the web UI's paths share (`folder_zip`,
//! `web_paths`): the integration tests' in-process proxy and metadata
//! server and their browser, settings read from the environment, timed
//! downloads, and a desktop client's way of storing and committing files.
//! Each bench uses part of it.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use futures::StreamExt;
use nimbus_chunks::{ChunkerParams, WorkspaceKeys};
use nimbus_protocol::rpc::{CommitArgs, CommitItem, Content, ItemOutcome, Revision};
use uuid::Uuid;

#[path = "../../tests/api/helpers.rs"]
pub mod helpers;

#[path = "../../tests/api/browser.rs"]
pub mod browser;

pub const MIB: f64 = 1024.0 * 1024.0;

/// The number in the environment variable `name`, else `default`.
pub fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One download: when its first body byte came, how long all took, how many bytes.
#[derive(Clone, Copy)]
pub struct Timed {
    pub first_byte: Duration,
    pub total: Duration,
    pub bytes: u64,
}

impl Timed {
    pub fn mib_per_sec(&self) -> f64 {
        self.bytes as f64 / MIB / self.total.as_secs_f64()
    }
}

/// Sends `request` and reads the body as it comes.
pub async fn timed(request: reqwest::RequestBuilder) -> anyhow::Result<Timed> {
    let started = Instant::now();
    let response = request.send().await?;
    let url = response.url().clone();
    ensure!(response.status() == 200, "{url}: {}", response.status());
    let mut body = response.bytes_stream();
    let mut first_byte = None;
    let mut bytes = 0u64;
    while let Some(piece) = body.next().await {
        let piece = piece.context("the body was cut off")?;
        if first_byte.is_none() && !piece.is_empty() {
            first_byte = Some(started.elapsed());
        }
        bytes += piece.len() as u64;
    }
    Ok(Timed {
        first_byte: first_byte.unwrap_or_default(),
        total: started.elapsed(),
        bytes,
    })
}

/// GETs every URL, `at_once` at a time; the first byte is the first of all.
pub async fn timed_files(
    client: &reqwest::Client,
    urls: &[String],
    at_once: usize,
) -> anyhow::Result<Timed> {
    let started = Instant::now();
    let each: Vec<Timed> = futures::stream::iter(urls)
        .map(|url| timed(client.get(url)))
        .buffer_unordered(at_once)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    Ok(Timed {
        first_byte: each.iter().map(|t| t.first_byte).min().unwrap_or_default(),
        total: started.elapsed(),
        bytes: each.iter().map(|t| t.bytes).sum(),
    })
}

/// The fastest of `rounds` runs of `run`: on a shared machine, the run
/// least disturbed by other work.
pub async fn fastest<F, Fut>(rounds: usize, run: F) -> anyhow::Result<Timed>
where
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<Timed>>,
{
    let mut best: Option<Timed> = None;
    for _ in 0..rounds {
        let timed = run().await?;
        if best.is_none_or(|b| timed.total < b.total) {
            best = Some(timed);
        }
    }
    best.context("no rounds")
}

/// The `p`-th percentile (nearest rank) of `samples`, which it sorts.
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

pub fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// A file of `data` stored as a desktop client stores it (chunks through
/// the Swift API), to commit.
pub async fn stored_file(
    app: &helpers::TestApp,
    device: &helpers::Device,
    parent: Uuid,
    name: String,
    data: &[u8],
) -> CommitItem {
    let keys = WorkspaceKeys::plain(device.workspace.workspace_id);
    let (chunks, content_hash, size) = helpers::upload_chunks(
        &app.client,
        &device.container_url,
        &device.swift_token,
        &keys,
        data,
    )
    .await;
    CommitItem {
        content: Content {
            size,
            content_hash: Some(content_hash),
            chunks,
            chunker: Some(ChunkerParams::DEFAULT.describe()),
        },
        is_folder: false,
        ..folder_item(&name, Some(parent))
    }
}

pub fn folder_item(name: &str, parent: Option<Uuid>) -> CommitItem {
    CommitItem {
        id: Uuid::now_v7(),
        base_version: 0,
        parent_id: parent,
        name: name.into(),
        is_folder: true,
        deleted: false,
        modified_at: 1_700_000_000_000,
        content: Content::default(),
    }
}

/// Commits `items` to the device's default workspace as a desktop client
/// does, in commits of at most 500; returns the last revision.
pub async fn commit(device: &helpers::Device, items: Vec<CommitItem>) -> anyhow::Result<Revision> {
    let mut revision = 0;
    for batch in items.chunks(500) {
        let reply = device
            .rpc
            .commit(
                &device.token,
                Uuid::new_v4(),
                CommitArgs {
                    workspace_id: device.workspace.workspace_id,
                    items: batch.to_vec(),
                },
            )
            .await?;
        for result in reply.results {
            ensure!(
                matches!(result.outcome, ItemOutcome::Committed { .. }),
                "{result:?}"
            );
        }
        revision = reply.revision;
    }
    Ok(revision)
}
