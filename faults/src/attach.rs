//! `--attach`: the clients run against a cluster that is already running
//! (`scripts/cluster-up.sh`), through the one address its load balancer
//! gives, while members of it are stopped and started again in turn by the
//! cluster's own commands (`scripts/cluster-down.sh [--kill|--pause] NAME`,
//! `cluster-up.sh NAME`). This run starts and stops nothing else of the
//! cluster's.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::process::Command;

use crate::cluster::Account;
use crate::infra::run;
use crate::ledger::Ledger;
use crate::process::Launch;

/// How the run reaches and disturbs the cluster.
pub struct Attached {
    /// The load balancer's URL, the only address the clients use.
    pub url: String,
    /// Given a member's name, stops it (returns once it has stopped).
    pub stop_command: PathBuf,
    /// Given a member's name, starts it (returns once it serves again).
    pub start_command: PathBuf,
    /// The members to take down and bring back, one after the other.
    pub members: Vec<Member>,
    /// How long each stays stopped.
    pub down_for: Duration,
    /// Load before the first stop and after each start.
    pub settle: Duration,
}

/// How a member is taken down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Down {
    /// Asked to stop (SIGTERM, `rabbitmqctl stop`).
    Stop,
    /// SIGKILL, as a crash would.
    Kill,
    /// SIGSTOP, then SIGCONT to bring it back: alive to the kernel and to
    /// its open connections, silent to everyone.
    Pause,
}

/// A member of the cluster and how it is taken down: `NAME`, `NAME:kill`
/// or `NAME:pause`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub down: Down,
}

impl FromStr for Member {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        let (name, down) = match spec.split_once(':') {
            None => (spec, Down::Stop),
            Some((name, "kill")) => (name, Down::Kill),
            Some((name, "pause")) => (name, Down::Pause),
            Some((_, other)) => return Err(format!("{other}: not kill or pause")),
        };
        Ok(Self {
            name: name.to_owned(),
            down,
        })
    }
}

impl fmt::Display for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.down {
            Down::Stop => write!(f, "{} (stopped)", self.name),
            Down::Kill => write!(f, "{} (SIGKILL)", self.name),
            Down::Pause => write!(f, "{} (SIGSTOP)", self.name),
        }
    }
}

/// One member taken down and brought back.
pub struct Restart {
    /// Seconds into the run when the stop began.
    pub at: f64,
    pub member: Member,
    /// How long the stop command took (until the member had stopped).
    pub stopping: Duration,
    /// From the moment it had stopped until it served again.
    pub down: Duration,
    /// How long the start command took (until the member served again).
    pub starting: Duration,
}

/// A user of the run's own on the cluster (so runs do not see each
/// other's files), made with `nimbus-server` and the cluster's settings,
/// which the caller passes in the environment (`NIMBUS_DATABASE_URL`, ...,
/// as `cluster.env` of `scripts/cluster-up.sh` exports them).
pub async fn account(bin: &Path) -> anyhow::Result<Account> {
    let user = format!("faults-{:08x}", rand::random::<u32>());
    let password = format!("{:032x}", rand::random::<u128>());
    Account::create(
        |args| Launch {
            program: bin.join("nimbus-server"),
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
        },
        user,
        password,
    )
    .await
    .context("cannot add the run's user to the attached cluster (is its cluster.env sourced?)")
}

impl Attached {
    /// Stops and starts each member in turn, `settle` apart; `watch` is
    /// called every 250 ms meanwhile (the clients' processes must not die).
    pub async fn restart_each(
        &self,
        ledger: &Ledger,
        mut watch: impl FnMut(),
    ) -> anyhow::Result<Vec<Restart>> {
        let mut restarts = Vec::new();
        wait_watching(self.settle, &mut watch).await;
        for member in &self.members {
            let at = ledger.at();
            let how = match member.down {
                Down::Stop => None,
                Down::Kill => Some("--kill"),
                Down::Pause => Some("--pause"),
            };
            let stopping = self.control(&self.stop_command, how, &member.name).await?;
            let stopped = Instant::now();
            println!(
                "[{:7.1}s] took down {member} (took {:.1} s)",
                ledger.at(),
                stopping.as_secs_f64()
            );
            wait_watching(self.down_for, &mut watch).await;
            let starting = self
                .control(&self.start_command, None, &member.name)
                .await?;
            let down = stopped.elapsed();
            println!(
                "[{:7.1}s] {member} serves again (start took {:.1} s, down {:.1} s)",
                ledger.at(),
                starting.as_secs_f64(),
                down.as_secs_f64()
            );
            restarts.push(Restart {
                at,
                member: member.clone(),
                stopping,
                down,
                starting,
            });
            wait_watching(self.settle, &mut watch).await;
        }
        Ok(restarts)
    }

    /// Runs `command [how] member` to its end; how long it took.
    async fn control(
        &self,
        command: &Path,
        how: Option<&str>,
        member: &str,
    ) -> anyhow::Result<Duration> {
        let began = Instant::now();
        // The command waits for the member, so `watch` pauses meanwhile:
        // the clients' processes are checked again right after.
        run(Command::new(command).args(how).arg(member))
            .await
            .with_context(|| format!("{} {member}", command.display()))?;
        Ok(began.elapsed())
    }
}

async fn wait_watching(length: Duration, watch: &mut impl FnMut()) {
    let until = Instant::now() + length;
    while Instant::now() < until {
        watch();
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub fn report(restarts: &[Restart]) {
    println!(
        "\n== members taken down and brought back: {}",
        restarts.len()
    );
    for restart in restarts {
        println!(
            "  {:<22} at {:5.0}s: taking down took {:4.1} s, down (unavailable) {:5.1} s, bringing back until it served {:4.1} s",
            restart.member.to_string(),
            restart.at,
            restart.stopping.as_secs_f64(),
            restart.down.as_secs_f64(),
            restart.starting.as_secs_f64()
        );
    }
}
