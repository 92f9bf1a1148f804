//! A long-running child process (metadata server, proxy, `nimbus sync`)
//! that can be killed, restarted with the same command, and paused.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use anyhow::Context;
use tokio::process::{Child, Command};

/// How to start one process, kept to start it again.
#[derive(Clone)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

pub struct Process {
    pub name: String,
    launch: Launch,
    log: PathBuf,
    child: Child,
    /// Starts after the first, each one asked for by the fault schedule.
    pub restarts: u32,
}

impl Process {
    pub fn start(name: &str, launch: Launch, logs: &Path) -> anyhow::Result<Self> {
        let log = logs.join(format!("{name}.log"));
        let child = spawn(&launch, &log)?;
        Ok(Self {
            name: name.to_owned(),
            launch,
            log,
            child,
            restarts: 0,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// The process's status if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub async fn signal(&self, signal: &str) -> anyhow::Result<()> {
        crate::infra::run(
            Command::new("kill")
                .args(["-s", signal])
                .arg(self.pid().to_string()),
        )
        .await
        .map(drop)
    }

    /// SIGKILL: no shutdown of any kind.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        self.signal("KILL").await?;
        self.child.wait().await?;
        Ok(())
    }

    /// Starts the same command again (after it died, one way or another).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.child = spawn(&self.launch, &self.log)?;
        self.restarts += 1;
        Ok(())
    }

    /// SIGTERM and wait: the end of the run.
    pub async fn stop(&mut self) {
        if self.exited().is_none() {
            let _ = self.signal("CONT").await;
            let _ = self.signal("TERM").await;
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(10), self.child.wait()).await;
            let _ = self.child.kill().await;
        }
    }
}

fn spawn(launch: &Launch, log: &Path) -> anyhow::Result<Child> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    Command::new(&launch.program)
        .args(&launch.args)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", launch.program.display()))
}
