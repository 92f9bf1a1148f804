//! Single-core throughput of each stage of the chunk pipeline and of the
//! whole pipeline, on data generated in process:
//!
//! * `random`: 256 MiB of BLAKE3 XOF output (incompressible, like media);
//! * `text`: 128 MiB of source-code-like words (compresses about 4:1).
//!
//! Each figure is the best of three runs, in MB/s: 10^6 bytes per second of
//! the thread's CPU time (Linux `/proc/thread-self/schedstat`), so that
//! concurrent builds on the machine distort it less than wall time would.
//! Stages run per FastCDC chunk with the default parameters, as the
//! pipeline does.
//!
//! Run: `cargo bench -p nimbus-chunks --bench pipeline` (about a minute).

use std::hint::black_box;
use std::time::{Duration, Instant};

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use fastcdc::v2020::{FastCDC, Normalization};
use nimbus_chunks::{Chunker, ChunkerParams, WorkspaceKeys, open_chunk};
use uuid::Uuid;

const MIB: usize = 1 << 20;
const RUNS: usize = 3;

fn random_data(len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    blake3::Hasher::new_derive_key("nimbus-chunks bench: random")
        .finalize_xof()
        .fill(&mut out);
    out
}

/// Source-code-like text: words from a small vocabulary, identifiers with
/// numbers, indentation and line breaks, drawn by a xorshift generator.
fn text_data(len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "fn",
        "let",
        "mut",
        "pub",
        "struct",
        "impl",
        "return",
        "if",
        "else",
        "match",
        "self",
        "Some",
        "None",
        "Ok",
        "Err",
        "=>",
        "->",
        "&",
        "::",
        "(",
        ")",
        "{",
        "}",
        ";",
        ",",
        "chunk",
        "workspace",
        "device",
        "version",
        "commit",
        "server",
        "client",
        "error",
        "the",
        "a",
        "of",
        "to",
        "and",
        "is",
        "in",
        "that",
        "for",
        "with",
        "file",
        "folder",
        "sync",
        "data",
        "bytes",
        "len",
        "id",
        "String",
        "Vec<u8>",
        "u64",
        "Result",
        "//",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::with_capacity(len + 64);
    while out.len() < len {
        let r = next();
        match r % 16 {
            0 => {
                out.push(b'\n');
                out.extend(std::iter::repeat_n(b' ', (r >> 8) as usize % 5 * 4));
            }
            1 => out.extend_from_slice(format!("x{}", (r >> 8) % 10_000).as_bytes()),
            _ => out.extend_from_slice(WORDS[(r >> 8) as usize % WORDS.len()].as_bytes()),
        }
        out.push(b' ');
    }
    out.truncate(len);
    out
}

/// CPU time this thread has run (user + system), from the scheduler's
/// nanosecond accounting. Wall time is meaningless while other builds
/// share the machine; CPU time is what a pipeline stage costs.
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    match text
        .split_whitespace()
        .next()
        .and_then(|ns| ns.parse().ok())
    {
        Some(ns) => Duration::from_nanos(ns),
        None => {
            // Not Linux: fall back to wall time.
            static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
            START.get_or_init(Instant::now).elapsed()
        }
    }
}

/// Least CPU time of `RUNS` runs of `f`.
fn best(mut f: impl FnMut()) -> Duration {
    (0..RUNS)
        .map(|_| {
            let t = thread_cpu();
            f();
            thread_cpu() - t
        })
        .min()
        .expect("RUNS > 0")
}

fn mbps(bytes: usize, t: Duration) -> f64 {
    bytes as f64 / t.as_secs_f64() / 1e6
}

fn cut(data: &[u8], p: ChunkerParams, seed: u64) -> Vec<(usize, usize)> {
    FastCDC::with_level_and_seed(
        data,
        p.min as usize,
        p.avg as usize,
        p.max as usize,
        Normalization::Level1,
        seed,
    )
    .map(|c| (c.offset, c.length))
    .collect()
}

struct Row {
    name: String,
    time: Duration,
    note: String,
}

fn report(title: &str, bytes: usize, rows: &[Row]) {
    println!("\n{title} ({} MiB)", bytes / MIB);
    for r in rows {
        println!(
            "  {:<46} {:>8.0} MB/s  {}",
            r.name,
            mbps(bytes, r.time),
            r.note
        );
    }
}

fn run(name: &str, data: &[u8]) {
    let n = data.len();
    let plain_keys = WorkspaceKeys::plain(Uuid::from_u128(1));
    let enc_keys = WorkspaceKeys::from_passphrase(Uuid::from_u128(1), "benchmark passphrase")
        .expect("key derivation");
    let p = ChunkerParams::DEFAULT;
    let chunks = cut(data, p, 0x5eed);
    let mut rows = Vec::new();

    // Stage: FastCDC alone (the crate's slice iterator, seeded gear).
    let t_cdc = best(|| {
        black_box(cut(black_box(data), p, 0x5eed));
    });
    rows.push(Row {
        name: "fastcdc v2020 64K/256K/1M".into(),
        time: t_cdc,
        note: format!(
            "{} chunks, mean {} KiB",
            chunks.len(),
            n / chunks.len() / 1024
        ),
    });

    // Stage: keyed BLAKE3 per chunk.
    let key = [7u8; 32];
    let t_hash = best(|| {
        for &(o, l) in &chunks {
            black_box(blake3::keyed_hash(&key, &data[o..o + l]));
        }
    });
    rows.push(Row {
        name: "blake3 keyed, per chunk".into(),
        time: t_hash,
        note: String::new(),
    });

    // Stage: zstd per chunk, levels 1 and 3.
    let mut zstd_times = Vec::new();
    for level in [1, 3] {
        let mut compressor = zstd::bulk::Compressor::new(level).expect("zstd");
        let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(p.max as usize));
        let mut total = 0;
        let t = best(|| {
            total = 0;
            for &(o, l) in &chunks {
                total += compressor
                    .compress_to_buffer(&data[o..o + l], &mut out)
                    .expect("compress");
            }
        });
        zstd_times.push((level, t, n as f64 / total as f64));
        rows.push(Row {
            name: format!("zstd level {level}, per chunk"),
            time: t,
            note: format!("ratio {:.2}", n as f64 / total as f64),
        });
    }

    // Stage: XChaCha20-Poly1305 in place per chunk (the plaintext size; the
    // pipeline encrypts the smaller compressed bytes).
    let cipher = XChaCha20Poly1305::new(&[9u8; 32].into());
    let nonce = XNonce::default();
    let mut buf = data[..p.max as usize].to_vec();
    let t_aead = best(|| {
        for &(_, l) in &chunks {
            let tag = cipher
                .encrypt_inout_detached(&nonce, b"aad", (&mut buf[..l]).into())
                .expect("encrypt");
            black_box(tag);
        }
    });
    rows.push(Row {
        name: "xchacha20-poly1305, per chunk".into(),
        time: t_aead,
        note: String::new(),
    });

    // The whole pipeline: Chunker over a reader (cut, id, whole-file hash,
    // zstd 1, seal), then opening every chunk (download path).
    let mut pipelines = Vec::new();
    for (mode, keys) in [("plain", &plain_keys), ("encrypted", &enc_keys)] {
        let mut sealed = Vec::new();
        let t = best(|| {
            sealed.clear();
            let mut chunker = Chunker::new(black_box(data), keys, p);
            for c in chunker.by_ref() {
                sealed.push(c.expect("chunk"));
            }
            black_box(chunker.finish());
        });
        let sealed_bytes: usize = sealed.iter().map(|c| c.sealed.len()).sum();
        pipelines.push((mode, t, sealed_bytes));
        rows.push(Row {
            name: format!("PIPELINE {mode} (seal)"),
            time: t,
            note: format!(
                "stored {:.1}% of input",
                100.0 * sealed_bytes as f64 / n as f64
            ),
        });
        let t_open = best(|| {
            for c in &sealed {
                black_box(open_chunk(keys, &c.id, &c.sealed).expect("open"));
            }
        });
        rows.push(Row {
            name: format!("  open {mode} (verify, decrypt, decompress)"),
            time: t_open,
            note: String::new(),
        });
    }
    report(name, n, &rows);

    // The pipeline against its stages. It hashes twice (chunk id and whole
    // file), compresses at level 1, and encrypts only the stored bytes.
    let t_z1 = zstd_times[0].1;
    println!("  pipeline vs stages:");
    for (mode, t, sealed) in pipelines {
        let aead = if mode == "encrypted" {
            t_aead.mul_f64(sealed as f64 / n as f64)
        } else {
            Duration::ZERO
        };
        let stages = [t_cdc, t_hash, t_hash, t_z1, aead];
        let slowest = *stages.iter().max().expect("stages");
        let sum: Duration = stages.iter().sum();
        println!(
            "    {mode:<9}: {:>5.1}% of the slowest stage ({:.0} MB/s), {:>5.1}% of the sum of \
             stages ({:.0} MB/s: 1/T = 1/C + 2/H + 1/Z + r/E)",
            100.0 * slowest.as_secs_f64() / t.as_secs_f64(),
            mbps(n, slowest),
            100.0 * sum.as_secs_f64() / t.as_secs_f64(),
            mbps(n, sum),
        );
    }
}

fn chunk_sizes(data: &[u8]) {
    println!(
        "\nchunk sizes on random data (plain pipeline, {} MiB)",
        data.len() / MIB
    );
    let keys = WorkspaceKeys::plain(Uuid::from_u128(2));
    for (min, avg, max) in [
        (16 << 10, 64 << 10, 256 << 10),
        (64 << 10, 256 << 10, 1 << 20),
        (256 << 10, 1 << 20, 4 << 20),
    ] {
        let p = ChunkerParams::new(min, avg, max).expect("params");
        let t_cdc = best(|| {
            black_box(cut(data, p, 0x5eed));
        });
        let mut count = 0;
        let t = best(|| {
            count = 0;
            for c in Chunker::new(data, &keys, p) {
                black_box(c.expect("chunk"));
                count += 1;
            }
        });
        println!(
            "  {:>4}K/{:>4}K/{:>4}K  fastcdc {:>5.0} MB/s  pipeline {:>5.0} MB/s  {:>5} chunks",
            min >> 10,
            avg >> 10,
            max >> 10,
            mbps(data.len(), t_cdc),
            mbps(data.len(), t),
            count
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; accept and ignore harness arguments.
    let started = Instant::now();
    let t = Instant::now();
    let random = random_data(256 * MIB);
    let text = text_data(128 * MIB);
    println!(
        "nimbus-chunks pipeline benchmark: single thread, MB/s of thread CPU time, best of {RUNS}, zstd {} (libzstd), \
         data generated in {:.1} s",
        zstd::zstd_safe::version_string(),
        t.elapsed().as_secs_f64()
    );
    run("random (incompressible)", &random);
    run("text (compressible)", &text);
    chunk_sizes(&random[..128 * MIB]);
    println!("\ntotal {:.0} s", started.elapsed().as_secs_f64());
}
