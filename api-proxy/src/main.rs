//! `nimbus-proxy [config.toml]`: serves the Swift API until Ctrl-C or SIGTERM.

use std::path::PathBuf;

use anyhow::Context;
use nimbus_proxy::config::Settings;
use nimbus_proxy::startup::Application;
use nimbus_proxy::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init("info");
    let config_file = std::env::args_os().nth(1).map(PathBuf::from);
    let settings = Settings::load(config_file.as_deref()).context("invalid configuration")?;
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
