//! `nimbus-proxy [config.toml]`: serves the Swift API, the REST API and the
//! web UI until Ctrl-C or SIGTERM.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use nimbus_proxy::config::Settings;
use nimbus_proxy::startup::Application;
use nimbus_proxy::telemetry;

#[derive(Parser)]
#[command(
    name = "nimbus-proxy",
    version,
    about = "Nimbus HTTP entry point: Swift-compatible object store, REST API v2, web UI",
    after_help = "Settings come from built-in defaults, then CONFIG, then NIMBUS_PROXY_* \
                  environment variables (nested keys with __, e.g. \
                  NIMBUS_PROXY_STORAGE__SCHEME=s3)."
)]
struct Cli {
    /// TOML configuration file.
    #[arg(value_name = "CONFIG")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init("info");
    let settings = Settings::load(cli.config.as_deref()).context("invalid configuration")?;
    let application = Application::build(settings).await?;
    application.run_until_stopped(shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let interrupted = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("cannot listen for SIGTERM");
        tokio::select! {
            _ = interrupted => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupted.await;
}
