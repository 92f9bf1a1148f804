//! `nimbus-faults`: faults under load. Starts its own PostgreSQL and
//! RabbitMQ, two metadata servers and two proxies; runs three desktop
//! clients, a Swift client and a REST client writing continuously; kills,
//! restarts and pauses every part meanwhile; then checks that every device
//! converged, nothing acknowledged was lost, no read was torn, no version
//! was duplicated and no process needed a hand. Exits 1 on any violation.
//! With `--attach` it runs the same clients and checks against a cluster
//! that is already running (`scripts/cluster-up.sh`), stopping and starting
//! its members through the cluster's own commands.
//! `scripts/faults.sh` and `scripts/cluster-test.sh` run it; see `docs/faults.md`.

mod attach;
mod cluster;
mod desktop;
mod faults;
mod infra;
mod ledger;
mod process;
mod rest;
mod swift;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;

use crate::attach::{Attached, Member};
use crate::cluster::{Account, Cluster};
use crate::desktop::{Device, Tree, differences, list};
use crate::faults::{Injected, inject, restart_the_fallen, schedule};
use crate::ledger::Ledger;
use crate::rest::Rest;
use crate::swift::Swift;

#[derive(Parser)]
#[command(
    name = "nimbus-faults",
    about = "Faults under load against a whole Nimbus cluster"
)]
struct Args {
    /// How long the clients write while faults are injected (about one
    /// fault per 20 s, every kind at least once). With --attach, the
    /// restarts set the length instead.
    #[arg(long, default_value_t = 90)]
    duration: u64,
    /// Where nimbus-server, nimbus-proxy and nimbus are (default: beside
    /// this program).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// How long the devices may take to converge after the writers stop.
    #[arg(long, default_value_t = 300)]
    converge_within: u64,
    /// Keep the run's directory (logs, databases) even when all is well.
    #[arg(long)]
    keep: bool,
    /// Start no cluster: run the clients against the one whose load
    /// balancer answers at this URL. Its settings (NIMBUS_DATABASE_URL,
    /// NIMBUS_AMQP_URL, ...) come from the environment, where `.
    /// <cluster dir>/cluster.env` puts them; the run adds a user of its own.
    #[arg(long, value_name = "URL")]
    attach: Option<String>,
    /// With --attach: a member to take down and bring back (repeat it;
    /// they go in turn): `NAME` is stopped cleanly, `NAME:kill` gets
    /// SIGKILL, `NAME:pause` SIGSTOP (and SIGCONT to come back).
    #[arg(long = "restart", value_name = "MEMBER", requires = "attach")]
    restart: Vec<Member>,
    /// With --attach: the program that stops a member, given its name.
    #[arg(long, default_value = "scripts/cluster-down.sh")]
    stop_command: PathBuf,
    /// With --attach: the program that starts a member again, given its
    /// name, and returns once it serves.
    #[arg(long, default_value = "scripts/cluster-up.sh")]
    start_command: PathBuf,
    /// With --attach: seconds each member stays stopped.
    #[arg(long, default_value_t = 10)]
    down_for: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bin = match args.bin_dir.clone() {
        Some(dir) => dir,
        None => std::env::current_exe()?
            .parent()
            .context("the program's directory")?
            .to_owned(),
    };
    let dir = tempfile::Builder::new()
        .prefix("nimbus-faults-")
        .tempdir()?;
    println!("run directory (logs): {}", dir.path().display());
    let ledger = Arc::new(Ledger::new());
    let outcome = match &args.attach {
        Some(url) => attached(&args, &bin, dir.path(), url, &ledger).await,
        None => own_cluster(&args, &bin, dir.path(), &ledger).await,
    };
    let violations = ledger.violations();
    let failed = outcome.is_err() || !violations.is_empty();
    if let Err(error) = &outcome {
        println!("the run could not finish: {error:#}");
    }
    if failed || args.keep {
        println!("kept {}", dir.keep().display());
    }
    if !violations.is_empty() {
        println!("\n{} VIOLATION(S):", violations.len());
        for violation in &violations {
            println!("  - {violation}");
        }
    }
    if failed {
        std::process::exit(1);
    }
    println!("\nno violations");
    Ok(())
}

/// The run on a cluster of its own: started, broken on a schedule, stopped.
async fn own_cluster(
    args: &Args,
    bin: &Path,
    dir: &Path,
    ledger: &Arc<Ledger>,
) -> anyhow::Result<()> {
    // The broker and the database run as their own users.
    infra::run(tokio::process::Command::new("chmod").arg("755").arg(dir)).await?;
    let mut cluster = Cluster::start(bin, dir).await?;
    let outcome = exercise(args, bin, dir, &mut cluster, ledger).await;
    cluster.stop().await;
    outcome
}

/// The clients, the faults and the checks, on the run's own cluster.
async fn exercise(
    args: &Args,
    bin: &Path,
    dir: &Path,
    cluster: &mut Cluster,
    ledger: &Arc<Ledger>,
) -> anyhow::Result<()> {
    let proxies = vec![cluster.proxy_url(0), cluster.proxy_url(1)];
    let mut clients =
        Clients::start(bin, dir, &cluster.logs, &proxies, &cluster.account, ledger).await?;
    println!(
        "[{:7.1}s] cluster up: 2 metadata servers, 2 proxies, own PostgreSQL :{} and RabbitMQ :{}; 3 devices, a Swift and a REST client writing for {} s",
        ledger.at(),
        cluster.postgres.port,
        cluster.rabbit.port,
        args.duration
    );
    let begin = Instant::now();
    let mut injected: Vec<Injected> = Vec::new();
    let mut rounds: BTreeMap<faults::Kind, usize> = BTreeMap::new();
    let watch = |cluster: &mut Cluster, devices: &mut [Device]| {
        restart_the_fallen(
            cluster
                .servers
                .iter_mut()
                .chain(cluster.proxies.iter_mut())
                .chain(devices.iter_mut().map(|device| &mut device.process)),
            ledger,
        )
    };
    for (when, kind) in schedule(Duration::from_secs(args.duration)) {
        while begin.elapsed() < when {
            watch(cluster, &mut clients.devices);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let round = rounds.entry(kind).or_default();
        let fault = inject(kind, *round, cluster, &clients.swift, ledger)
            .await
            .with_context(|| format!("injecting {kind}"))?;
        *round += 1;
        println!(
            "[{:7.1}s] {:<34} {:<9} back after {:5.1} s {}",
            fault.at,
            fault.kind.to_string(),
            fault.target,
            fault.took.as_secs_f64(),
            fault.detail
        );
        injected.push(fault);
    }
    while begin.elapsed() < Duration::from_secs(args.duration) {
        watch(cluster, &mut clients.devices);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let checks = clients
        .stop_and_check(args, ledger, |devices| watch(cluster, devices))
        .await?;
    faults::report(&injected);
    report(ledger, &checks, "both proxies");
    Ok(())
}

/// The run on a cluster that is already running (`--attach`).
async fn attached(
    args: &Args,
    bin: &Path,
    dir: &Path,
    url: &str,
    ledger: &Arc<Ledger>,
) -> anyhow::Result<()> {
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    let account = attach::account(bin).await?;
    let cluster = Attached {
        url: url.to_owned(),
        stop_command: args.stop_command.clone(),
        start_command: args.start_command.clone(),
        members: args.restart.clone(),
        down_for: Duration::from_secs(args.down_for),
        settle: SETTLE,
    };
    let proxies = vec![cluster.url.clone()];
    let mut clients = Clients::start(bin, dir, &logs, &proxies, &account, ledger).await?;
    println!(
        "[{:7.1}s] attached to {url} as {}: 3 devices, a Swift and a REST client writing; taking down and bringing back {} in turn, each down {} s",
        ledger.at(),
        account.user,
        cluster
            .members
            .iter()
            .map(Member::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        args.down_for
    );
    let watch = |devices: &mut [Device]| {
        restart_the_fallen(devices.iter_mut().map(|device| &mut device.process), ledger)
    };
    let restarts = {
        let devices = &mut clients.devices;
        cluster.restart_each(ledger, || watch(devices)).await?
    };
    let checks = clients.stop_and_check(args, ledger, watch).await?;
    attach::report(&restarts);
    report(ledger, &checks, "the load balancer");
    Ok(())
}

/// Load on the attached cluster before the first stop and after each start.
const SETTLE: Duration = Duration::from_secs(10);

/// The three devices, the Swift client and the REST client, writing.
struct Clients {
    devices: Vec<Device>,
    swift: Arc<Swift>,
    rest: Arc<Rest>,
    stop: Arc<AtomicBool>,
    desktop_writers: Vec<tokio::task::JoinHandle<Tree>>,
    others: Vec<tokio::task::JoinHandle<()>>,
}

/// What the checks after the writers stopped found.
struct Checks {
    converged: Option<Duration>,
    files_on_devices: usize,
    swift_verified: (usize, usize),
    rest_verified: usize,
    histories: usize,
}

impl Clients {
    async fn start(
        bin: &Path,
        dir: &Path,
        logs: &Path,
        proxies: &[String],
        account: &Account,
        ledger: &Arc<Ledger>,
    ) -> anyhow::Result<Self> {
        let mut devices = Vec::new();
        for (index, name) in ["laptop", "desktop", "tablet"].iter().enumerate() {
            // With two proxies, two log in through one, one through the other.
            let proxy = &proxies[usize::from(index == 2) % proxies.len()];
            let devices_dir = dir.join("devices");
            devices.push(Device::start(bin, &devices_dir, logs, name, proxy, account).await?);
        }
        let (user, password) = (account.user.clone(), account.password.clone());
        let swift = Swift::connect(proxies.to_vec(), &user, &password, ledger.clone()).await?;
        let rest = Arc::new(
            Rest::grant(
                proxies.to_vec(),
                account.consumer.clone(),
                &user,
                &password,
                ledger.clone(),
            )
            .await?,
        );
        let stop = Arc::new(AtomicBool::new(false));
        let desktop_writers = devices
            .iter()
            .map(|device| {
                tokio::spawn(desktop::write(
                    device.root.clone(),
                    device.name.clone(),
                    ledger.clone(),
                    stop.clone(),
                ))
            })
            .collect();
        let mut others = Vec::new();
        for writer in 0..2 {
            let (swift, stop) = (swift.clone(), stop.clone());
            let (user, password) = (user.clone(), password.clone());
            others.push(tokio::spawn(async move {
                swift.write(writer, &user, &password, &stop).await
            }));
        }
        {
            let (swift, stop) = (swift.clone(), stop.clone());
            others.push(tokio::spawn(async move { swift.read(&stop).await }));
        }
        {
            let (rest, stop) = (rest.clone(), stop.clone());
            others.push(tokio::spawn(async move { rest.write(&stop).await }));
        }
        Ok(Self {
            devices,
            swift,
            rest,
            stop,
            desktop_writers,
            others,
        })
    }

    /// Stops the writers, waits for the devices to converge (calling
    /// `watch` each second), then verifies every acknowledged write.
    async fn stop_and_check(
        mut self,
        args: &Args,
        ledger: &Ledger,
        mut watch: impl FnMut(&mut [Device]),
    ) -> anyhow::Result<Checks> {
        self.stop.store(true, Ordering::Relaxed);
        let mut required = Tree::new();
        for writer in self.desktop_writers {
            required.extend(writer.await?);
        }
        for client in self.others {
            client.await?;
        }
        println!(
            "[{:7.1}s] writers stopped; waiting for the devices to converge",
            ledger.at()
        );

        // The REST uploads reach every device: the acknowledged ones must,
        // the others (whose answer a fault swallowed) may.
        let mut optional = Tree::new();
        for (name, upload) in self.rest.uploads.lock().unwrap().iter() {
            let target = if upload.id.is_some() {
                &mut required
            } else {
                &mut optional
            };
            target.insert(name.clone(), Some(upload.md5.clone()));
        }
        let converging = Instant::now();
        let converged = loop {
            watch(&mut self.devices);
            let trees: Vec<Tree> = self.devices.iter().map(|d| list(&d.root)).collect();
            let all_equal = trees.windows(2).all(|pair| pair[0] == pair[1]);
            if all_equal && differences(&trees[0], &required, &optional).is_empty() {
                break Some(converging.elapsed());
            }
            if converging.elapsed() > Duration::from_secs(args.converge_within) {
                for (device, tree) in self.devices.iter().zip(&trees) {
                    for line in differences(tree, &required, &optional).iter().take(10) {
                        ledger.violation(format!("{} did not converge: {line}", device.name));
                    }
                }
                break None;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        };
        let checks = Checks {
            converged,
            files_on_devices: required.values().filter(|md5| md5.is_some()).count(),
            swift_verified: self.swift.verify().await,
            rest_verified: self.rest.verify().await,
            histories: self.rest.check_versions().await,
        };
        // Still the processes the faults left: none ended on its own.
        watch(&mut self.devices);
        for device in &mut self.devices {
            device.process.stop().await;
        }
        Ok(checks)
    }
}

/// The writes, the failures and the checks; `through` names what the
/// objects were read back through.
fn report(ledger: &Ledger, checks: &Checks, through: &str) {
    println!("== writes");
    println!(
        "  desktop file operations (3 devices):  {}",
        ledger.desktop_operations.get()
    );
    println!(
        "  Swift PUTs acknowledged (201):        {} ({} failed during faults)",
        ledger.swift_puts_acknowledged.get(),
        ledger.swift_put_errors.get()
    );
    println!(
        "  REST uploads acknowledged (201):      {} ({} failed during faults)",
        ledger.rest_uploads_acknowledged.get(),
        ledger.rest_upload_errors.get()
    );
    println!("== failed requests, by cause");
    for (cause, count) in ledger.failures() {
        println!("  {cause:<48} {count}");
    }
    println!("== checks");
    match checks.converged {
        Some(took) => println!(
            "  convergence: 3 devices, same tree and bytes, {} files, {:.1} s after the writers stopped",
            checks.files_on_devices,
            took.as_secs_f64()
        ),
        None => println!("  convergence: NOT reached"),
    }
    println!(
        "  Swift objects verified byte for byte ({through}, listing): {} ({} hold a PUT whose answer was lost, carried out last)",
        checks.swift_verified.0, checks.swift_verified.1
    );
    println!(
        "  REST uploads verified byte for byte: {}",
        checks.rest_verified
    );
    println!(
        "  reads checked for tearing: {} whole bodies ({} of writes not yet acknowledged), {} errors",
        ledger.reads_checked.get(),
        ledger.reads_of_unacknowledged.get(),
        ledger.read_errors.get()
    );
    println!(
        "  file histories checked for duplicate versions: {}",
        checks.histories
    );
    println!(
        "  processes that needed a hand: {}",
        ledger
            .violations()
            .iter()
            .filter(|v| v.contains("exited on its own"))
            .count()
    );
}
