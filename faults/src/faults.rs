//! The faults, when they happen, and the watch for processes that die
//! without being asked to.

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::cluster::Cluster;
use crate::infra::wait_for_port;
use crate::ledger::Ledger;
use crate::process::Process;
use crate::swift::Swift;

/// Longer than the metadata RPC's timeout (10 s) and the test clients'
/// HTTP timeout (10 s), so a paused process's requests time out.
const PAUSE: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Kind {
    KillServer,
    KillProxy,
    RestartRabbit,
    RestartPostgres,
    Pause,
}

pub const KINDS: [Kind; 5] = [
    Kind::KillServer,
    Kind::KillProxy,
    Kind::RestartRabbit,
    Kind::RestartPostgres,
    Kind::Pause,
];

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::KillServer => "SIGKILL metadata server, restart",
            Kind::KillProxy => "SIGKILL proxy mid-upload, restart",
            Kind::RestartRabbit => "restart RabbitMQ",
            Kind::RestartPostgres => "restart PostgreSQL (immediate)",
            Kind::Pause => "SIGSTOP 15 s, SIGCONT",
        })
    }
}

/// One fault as it happened.
pub struct Injected {
    pub at: f64,
    pub kind: Kind,
    pub target: String,
    pub detail: String,
    /// Until the part was back (restarted, listening, resumed).
    pub took: Duration,
}

/// When each fault happens in a run of `duration`: every kind at least
/// once, one about every 20 s, from 10 s until 10 s before the end.
pub fn schedule(duration: Duration) -> Vec<(Duration, Kind)> {
    let window = duration
        .saturating_sub(Duration::from_secs(20))
        .as_secs_f64();
    let count = ((window / 20.0) as usize).max(KINDS.len());
    let spacing = window / count as f64;
    (0..count)
        .map(|i| {
            (
                Duration::from_secs_f64(10.0 + spacing * i as f64),
                KINDS[i % KINDS.len()],
            )
        })
        .collect()
}

/// Injects one fault; the `round`th of its kind picks the target.
pub async fn inject(
    kind: Kind,
    round: usize,
    cluster: &mut Cluster,
    swift: &Swift,
    ledger: &Ledger,
) -> anyhow::Result<Injected> {
    let at = ledger.at();
    let started = tokio::time::Instant::now();
    let (target, detail) = match kind {
        Kind::KillServer => {
            let server = &mut cluster.servers[round % 2];
            server.kill().await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            server.restart()?;
            (server.name.clone(), String::new())
        }
        Kind::KillProxy => {
            let index = round % 2;
            // Wait (a little) for an upload in flight through it.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while swift.uploading[index].load(Ordering::Relaxed) == 0
                && tokio::time::Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let uploads = swift.uploading[index].load(Ordering::Relaxed);
            let proxy = &mut cluster.proxies[index];
            proxy.kill().await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            proxy.restart()?;
            wait_for_port(cluster.proxy_ports[index], Duration::from_secs(60)).await?;
            (
                proxy.name.clone(),
                format!("{uploads} Swift PUT(s) in flight through it"),
            )
        }
        Kind::RestartRabbit => {
            cluster.rabbit.restart().await?;
            ("rabbitmq".to_owned(), String::new())
        }
        Kind::RestartPostgres => {
            cluster.postgres.restart_immediate().await?;
            ("postgresql".to_owned(), String::new())
        }
        Kind::Pause => {
            let process: &Process = match round % 4 {
                0 => &cluster.servers[0],
                1 => &cluster.proxies[1],
                2 => &cluster.servers[1],
                _ => &cluster.proxies[0],
            };
            process.signal("STOP").await?;
            tokio::time::sleep(PAUSE).await;
            process.signal("CONT").await?;
            (process.name.clone(), String::new())
        }
    };
    Ok(Injected {
        at,
        kind,
        target,
        detail,
        took: started.elapsed(),
    })
}

/// A process that exited although no fault stopped it needed a manual
/// step: a violation. It is started again so the run goes on.
pub fn restart_the_fallen<'a>(processes: impl Iterator<Item = &'a mut Process>, ledger: &Ledger) {
    for process in processes {
        if let Some(status) = process.exited() {
            ledger.violation(format!(
                "{} exited on its own ({status}); restarted by hand",
                process.name
            ));
            if let Err(error) = process.restart() {
                ledger.violation(format!("{} cannot be restarted: {error:#}", process.name));
            }
        }
    }
}

/// The faults of a run on its own cluster, by kind.
pub fn report(injected: &[Injected]) {
    println!("\n== faults injected: {}", injected.len());
    for kind in KINDS {
        let of_kind: Vec<&Injected> = injected.iter().filter(|f| f.kind == kind).collect();
        let times: Vec<String> = of_kind
            .iter()
            .map(|f| format!("{:.0}s {}", f.at, f.target))
            .collect();
        println!(
            "  {:<34} {:>3}  ({})",
            kind.to_string(),
            of_kind.len(),
            times.join(", ")
        );
    }
}
