//! What the run counted and every violation it saw, shared by all tasks.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use md5::{Digest, Md5};

#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

pub struct Ledger {
    pub started: Instant,
    violations: Mutex<Vec<String>>,
    pub desktop_operations: Counter,
    pub swift_puts_acknowledged: Counter,
    pub swift_put_errors: Counter,
    pub rest_uploads_acknowledged: Counter,
    pub rest_upload_errors: Counter,
    /// GETs that returned a whole body, each checked against what was written.
    pub reads_checked: Counter,
    /// GETs that ended in an error (allowed during faults).
    pub read_errors: Counter,
    /// Reads whose body was a write not yet acknowledged when the read
    /// began (in flight, or whose answer a fault swallowed): complete, so
    /// not torn.
    pub reads_of_unacknowledged: Counter,
    /// Why requests failed: "client request: status or error" → count.
    failures: Mutex<BTreeMap<String, u64>>,
}

impl Ledger {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            violations: Mutex::default(),
            desktop_operations: Counter::default(),
            swift_puts_acknowledged: Counter::default(),
            swift_put_errors: Counter::default(),
            rest_uploads_acknowledged: Counter::default(),
            rest_upload_errors: Counter::default(),
            reads_checked: Counter::default(),
            read_errors: Counter::default(),
            reads_of_unacknowledged: Counter::default(),
            failures: Mutex::default(),
        }
    }

    /// Seconds since the run began, for the log.
    pub fn at(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn violation(&self, what: String) {
        eprintln!("[{:7.1}s] VIOLATION: {what}", self.at());
        self.violations.lock().unwrap().push(what);
    }

    /// Counts a failed request of `what` (e.g. "Swift PUT") by `why`.
    pub fn failure(&self, what: &str, why: impl std::fmt::Display) {
        *self
            .failures
            .lock()
            .unwrap()
            .entry(format!("{what}: {why}"))
            .or_default() += 1;
    }

    pub fn failures(&self) -> BTreeMap<String, u64> {
        self.failures.lock().unwrap().clone()
    }

    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().unwrap().clone()
    }
}

pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

/// Random bytes of a random size: mostly small files (kept inline in the
/// proxy's index), some of several chunks and blobs.
pub fn random_body() -> Vec<u8> {
    let size = match rand::random_range(0..100) {
        0..55 => rand::random_range(0..16 * 1024),
        55..95 => rand::random_range(16 * 1024..256 * 1024),
        _ => rand::random_range(1024 * 1024..2 * 1024 * 1024),
    };
    let mut body = vec![0u8; size];
    rand::fill(&mut body[..]);
    body
}

/// The kind of a transport error, without its details (URLs, ports).
pub fn error_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection refused"
    } else if error.is_body() || error.is_decode() {
        "body cut off"
    } else {
        "connection lost"
    }
}
