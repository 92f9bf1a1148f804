//! `nimbus`: the desktop client's command line. See [`nimbus_client::cli`].

use std::io::Write;

use clap::Parser;
use indicatif::MultiProgress;
use nimbus_client::cli::{self, Cli};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Writes log lines above the progress bars instead of through them.
#[derive(Clone)]
struct LogWriter(MultiProgress);

struct LineBuffer {
    progress: MultiProgress,
    buffer: Vec<u8>,
}

impl Write for LineBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineBuffer {
    fn drop(&mut self) {
        let buffer = std::mem::take(&mut self.buffer);
        self.progress.suspend(|| {
            let _ = std::io::stderr().write_all(&buffer);
        });
    }
}

impl<'a> MakeWriter<'a> for LogWriter {
    type Writer = LineBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        LineBuffer {
            progress: self.0.clone(),
            buffer: Vec::new(),
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let progress = MultiProgress::new();
    let default = if cli.verbose {
        "nimbus_client=debug,nimbus=debug,info"
    } else {
        "info"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LogWriter(progress.clone()))
        .with_target(false)
        .init();
    match cli::run(cli, progress).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
