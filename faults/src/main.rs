//! `nimbus-faults`: faults under load. Starts its own PostgreSQL and
//! RabbitMQ, two metadata servers and two proxies; runs three desktop
//! clients, a Swift client and a REST client writing continuously; kills,
//! restarts and pauses every part meanwhile; then checks that every device
//! converged, nothing acknowledged was lost, no read was torn, no version
//! was duplicated and no process needed a hand. Exits 1 on any violation.
//! `scripts/faults.sh` builds the binaries and runs it; see `docs/faults.md`.

mod cluster;
mod desktop;
mod faults;
mod infra;
mod ledger;
mod process;
mod rest;
mod swift;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;

use crate::cluster::{Cluster, PASSWORD, USER};
use crate::desktop::{Device, Tree, differences, list};
use crate::faults::{Injected, KINDS, inject, restart_the_fallen, schedule};
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
    /// fault per 20 s, every kind at least once).
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
    // The broker and the database run as their own users.
    infra::run(
        tokio::process::Command::new("chmod")
            .arg("755")
            .arg(dir.path()),
    )
    .await?;
    println!("run directory (logs): {}", dir.path().display());
    let ledger = Arc::new(Ledger::new());
    let mut cluster = Cluster::start(&bin, dir.path()).await?;
    let outcome = exercise(&args, &bin, dir.path(), &mut cluster, &ledger).await;
    cluster.stop().await;
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

/// The clients, the faults and the checks, on a running cluster.
async fn exercise(
    args: &Args,
    bin: &std::path::Path,
    dir: &std::path::Path,
    cluster: &mut Cluster,
    ledger: &Arc<Ledger>,
) -> anyhow::Result<()> {
    let proxies = vec![cluster.proxy_url(0), cluster.proxy_url(1)];
    let mut devices = Vec::new();
    for (index, name) in ["laptop", "desktop", "tablet"].iter().enumerate() {
        // Two log in through one proxy, one through the other.
        let proxy = &proxies[usize::from(index == 2)];
        devices.push(Device::start(bin, &dir.join("devices"), &cluster.logs, name, proxy).await?);
    }
    let swift = Swift::connect(proxies.clone(), USER, PASSWORD, ledger.clone()).await?;
    let rest = Arc::new(
        Rest::grant(
            proxies.clone(),
            cluster.consumer.clone(),
            USER,
            PASSWORD,
            ledger.clone(),
        )
        .await?,
    );

    println!(
        "[{:7.1}s] cluster up: 2 metadata servers, 2 proxies, own PostgreSQL :{} and RabbitMQ :{}; 3 devices, a Swift and a REST client writing for {} s",
        ledger.at(),
        cluster.postgres.port,
        cluster.rabbit.port,
        args.duration
    );
    let stop = Arc::new(AtomicBool::new(false));
    let desktop_writers: Vec<_> = devices
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
    let mut clients = Vec::new();
    for writer in 0..2 {
        let (swift, stop) = (swift.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            swift.write(writer, USER, PASSWORD, &stop).await
        }));
    }
    {
        let (swift, stop) = (swift.clone(), stop.clone());
        clients.push(tokio::spawn(async move { swift.read(&stop).await }));
    }
    {
        let (rest, stop) = (rest.clone(), stop.clone());
        clients.push(tokio::spawn(async move { rest.write(&stop).await }));
    }

    let begin = Instant::now();
    let mut injected: Vec<Injected> = Vec::new();
    let mut rounds: BTreeMap<faults::Kind, usize> = BTreeMap::new();
    for (when, kind) in schedule(Duration::from_secs(args.duration)) {
        while begin.elapsed() < when {
            restart_the_fallen(cluster, &mut devices, ledger);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let round = rounds.entry(kind).or_default();
        let fault = inject(kind, *round, cluster, &swift, ledger)
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
        restart_the_fallen(cluster, &mut devices, ledger);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut required = Tree::new();
    for writer in desktop_writers {
        required.extend(writer.await?);
    }
    for client in clients {
        client.await?;
    }
    println!(
        "[{:7.1}s] writers stopped; waiting for the devices to converge",
        ledger.at()
    );

    // The REST uploads reach every device: the acknowledged ones must, the
    // others (whose answer a fault swallowed) may.
    let mut optional = Tree::new();
    for (name, upload) in rest.uploads.lock().unwrap().iter() {
        let target = if upload.id.is_some() {
            &mut required
        } else {
            &mut optional
        };
        target.insert(name.clone(), Some(upload.md5.clone()));
    }
    let converging = Instant::now();
    let converged = loop {
        restart_the_fallen(cluster, &mut devices, ledger);
        let trees: Vec<Tree> = devices.iter().map(|d| list(&d.root)).collect();
        let all_equal = trees.windows(2).all(|pair| pair[0] == pair[1]);
        if all_equal && differences(&trees[0], &required, &optional).is_empty() {
            break Some(converging.elapsed());
        }
        if converging.elapsed() > Duration::from_secs(args.converge_within) {
            for (device, tree) in devices.iter().zip(&trees) {
                for line in differences(tree, &required, &optional).iter().take(10) {
                    ledger.violation(format!("{} did not converge: {line}", device.name));
                }
            }
            break None;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let files_on_devices = required.values().filter(|md5| md5.is_some()).count();

    let swift_verified = swift.verify().await;
    let rest_verified = rest.verify().await;
    let histories = rest.check_versions().await;
    // Still the processes the faults left: none ended on its own.
    restart_the_fallen(cluster, &mut devices, ledger);

    report(
        ledger,
        &injected,
        converged,
        files_on_devices,
        swift_verified,
        rest_verified,
        histories,
    );
    Ok(())
}

fn report(
    ledger: &Ledger,
    injected: &[Injected],
    converged: Option<Duration>,
    files_on_devices: usize,
    swift_verified: (usize, usize),
    rest_verified: usize,
    histories: usize,
) {
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
    match converged {
        Some(took) => println!(
            "  convergence: 3 devices, same tree and bytes, {files_on_devices} files, {:.1} s after the writers stopped",
            took.as_secs_f64()
        ),
        None => println!("  convergence: NOT reached"),
    }
    println!(
        "  Swift objects verified byte for byte (both proxies, listing): {} ({} hold a PUT whose answer was lost, carried out last)",
        swift_verified.0, swift_verified.1
    );
    println!("  REST uploads verified byte for byte: {rest_verified}");
    println!(
        "  reads checked for tearing: {} whole bodies ({} of writes not yet acknowledged), {} errors",
        ledger.reads_checked.get(),
        ledger.reads_of_unacknowledged.get(),
        ledger.read_errors.get()
    );
    println!("  file histories checked for duplicate versions: {histories}");
    println!(
        "  processes that needed a hand: {}",
        ledger
            .violations()
            .iter()
            .filter(|v| v.contains("exited on its own"))
            .count()
    );
}
