//! The test suite's evidence that secrets stay out of logs.
//!
//! `scripts/test.sh` makes a fresh directory per run and names it in
//! `NIMBUS_TEST_LOG_DIR`. The in-process servers, proxies and clients of the
//! test suites log there (one file per test process, at the level `RUST_LOG`
//! gives, which the script sets to trace for Nimbus's crates), and every
//! secret a test makes or uses is appended to `secrets.tsv` beside them, for
//! `scripts/scan-secrets.sh` to check that no log line holds one. Without the
//! variable, [`init`] logs to the test output when `TEST_LOG` is set and
//! [`record_secret`] does nothing.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// The file [`record_secret`] appends to, in the log directory.
pub const SECRETS_FILE: &str = "secrets.tsv";

fn log_dir() -> Option<PathBuf> {
    std::env::var_os("NIMBUS_TEST_LOG_DIR").map(PathBuf::from)
}

/// The file this test process logs to, when there is a log directory.
pub fn process_log() -> Option<PathBuf> {
    let process = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "test".into());
    Some(log_dir()?.join(format!("{process}-{}.log", std::process::id())))
}

/// Installs this test process's subscriber (a second call is a no-op).
/// Spans are logged when they close, so that each request's span (method,
/// target, status) is a line of its own, as a production log has it.
pub fn init() {
    if let Some(path) = process_log() {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|error| panic!("cannot open {}: {error}", path.display()));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::from_default_env())
            .with_span_events(FmtSpan::CLOSE)
            .with_ansi(false)
            .with_writer(Mutex::new(file))
            .try_init();
    } else if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new("info"))
            .with_test_writer()
            .try_init();
    }
}

/// Notes `value`, a secret of `kind` ("password", "device token", ...) that a
/// test made or used, for the scan after the run.
pub fn record_secret(kind: &str, value: &str) {
    let Some(dir) = log_dir() else {
        return;
    };
    if value.is_empty() {
        return;
    }
    assert!(
        !kind.contains(['\t', '\n']) && !value.contains('\n'),
        "one secret per line"
    );
    let path = dir.join(SECRETS_FILE);
    // One write of a short line to a file opened for appending: concurrent
    // tests and processes do not interleave within it.
    let mut file: File = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|error| panic!("cannot open {}: {error}", path.display()));
    file.write_all(format!("{kind}\t{value}\n").as_bytes())
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
}

/// `<name>.log` in the log directory, opened for appending: where a child
/// process of a test writes its log (standard error).
pub fn output_file(name: &str) -> Option<File> {
    let path = log_dir()?.join(format!("{name}.log"));
    Some(
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|error| panic!("cannot open {}: {error}", path.display())),
    )
}

/// Appends what a child process wrote, which its test read, to
/// [`output_file`]`(name)`.
pub fn append_output(name: &str, output: &[u8]) {
    if let Some(mut file) = output_file(name) {
        file.write_all(output)
            .unwrap_or_else(|error| panic!("cannot write the log of {name}: {error}"));
    }
}

/// Log output kept in memory, for tests of what a subscriber writes.
#[derive(Clone, Default)]
pub struct CapturedLog(std::sync::Arc<Mutex<Vec<u8>>>);

impl CapturedLog {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }
}

impl Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("not poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'writer> tracing_subscriber::fmt::MakeWriter<'writer> for CapturedLog {
    type Writer = CapturedLog;

    fn make_writer(&'writer self) -> CapturedLog {
        self.clone()
    }
}
