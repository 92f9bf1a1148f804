//! A folder downloaded as one streamed zip next to the same bytes downloaded
//! as plain files, in the same run, so that the figures read as ratios on a
//! noisy shared machine. A benchmark, not a test: it prints figures and
//! checks only that the bytes came back.
//!
//! ```text
//! cargo bench -p nimbus-proxy --bench folder_zip
//! ```
//!
//! It starts, in this process, a proxy (objects in a temporary directory) and
//! a metadata server on the local PostgreSQL and RabbitMQ, as the integration
//! tests do, stores two folders as a desktop client does (chunks through the
//! Swift API, then a commit): `many`, `NIMBUS_BENCH_ZIP_FILES` files (1000)
//! of `NIMBUS_BENCH_ZIP_FILE_KIB` KiB (32) each, and `big`, one file of
//! `NIMBUS_BENCH_ZIP_BIG_MIB` MiB (900: with the small files it stays under
//! the 1 GiB quota a new user has). Both are reached through a public
//! folder link (the zip code is the web UI's; a link spares a sign-in).
//!
//! For each folder it times the time to the first byte and the throughput of
//! `GET /s/{token}/{folder}/zip`, and, as the baseline, of the same files
//! downloaded one by one as plain files (`GET /s/{token}/{file}`): for
//! `many` one after the other (as a browser saves a list of links) and with
//! 8 at once; for `big` the one file. The fastest of
//! `NIMBUS_BENCH_ROUNDS` (3) rounds of each is printed.

use anyhow::ensure;
use nimbus_protocol::rpc::{CreateLinkArgs, CreatedLink, Operation};

mod support;
use support::{Timed, fastest, folder_item, helpers, setting, stored_file, timed, timed_files};

const CONCURRENCY: usize = 8;

fn row(label: &str, timed: Timed) {
    println!(
        "{label:<34} {:>10.1} {:>10.1} {:>9.1}",
        timed.first_byte.as_secs_f64() * 1000.0,
        timed.mib_per_sec(),
        timed.total.as_secs_f64()
    );
}

fn ratios(label: &str, zip: Timed, baseline: Timed) {
    println!(
        "{label:<34} {:>10.2} {:>10.2} {:>9.2}",
        zip.first_byte.as_secs_f64() / baseline.first_byte.as_secs_f64(),
        zip.mib_per_sec() / baseline.mib_per_sec(),
        zip.total.as_secs_f64() / baseline.total.as_secs_f64()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let files = setting("NIMBUS_BENCH_ZIP_FILES", 1000);
    let file_kib = setting("NIMBUS_BENCH_ZIP_FILE_KIB", 32);
    let big_mib = setting("NIMBUS_BENCH_ZIP_BIG_MIB", 900);
    let rounds = setting("NIMBUS_BENCH_ROUNDS", 3);
    let app = helpers::spawn_app_with(|settings| {
        settings.zip_max_bytes = u64::MAX;
    })
    .await;
    app.add_user("bench", None, true).await;
    let device = helpers::device(&app, "bench").await;

    let many = folder_item("many", None);
    let big = folder_item("big", None);
    let mut items = vec![many.clone(), big.clone()];
    let mut small_ids = Vec::new();
    for n in 0..files {
        let data = helpers::noise(file_kib * 1024, n as u64 + 1);
        let file = stored_file(&app, &device, many.id, format!("file {n}.bin"), &data).await;
        small_ids.push(file.id);
        items.push(file);
    }
    let big_data = helpers::noise(big_mib << 20, 0xB16);
    let big_file = stored_file(&app, &device, big.id, "big.bin".into(), &big_data).await;
    let big_id = big_file.id;
    drop(big_data);
    items.push(big_file);
    support::commit(&device, items).await?;

    let link: CreatedLink = device
        .rpc
        .call(
            Some(&device.token),
            Operation::CreateLink(CreateLinkArgs {
                workspace_id: device.workspace.workspace_id,
                item_id: None,
                expires_at: None,
                password: None,
                max_downloads: None,
            }),
        )
        .await?;
    let base = format!("{}/s/{}", app.address, link.token.0);
    let client = reqwest::Client::new();
    let many_zip = format!("{base}/{}/zip", many.id);
    let big_zip = format!("{base}/{}/zip", big.id);
    let small_urls: Vec<String> = small_ids.iter().map(|id| format!("{base}/{id}")).collect();
    let big_url = vec![format!("{base}/{big_id}")];

    let zip_many = fastest(rounds, || timed(client.get(&many_zip))).await?;
    let plain_many = fastest(rounds, || timed_files(&client, &small_urls, 1)).await?;
    let plain_many_8 = fastest(rounds, || timed_files(&client, &small_urls, CONCURRENCY)).await?;
    let zip_big = fastest(rounds, || timed(client.get(&big_zip))).await?;
    let plain_big = fastest(rounds, || timed_files(&client, &big_url, 1)).await?;
    ensure!(zip_many.bytes > (files * file_kib * 1024) as u64);
    ensure!(zip_big.bytes > (big_mib as u64) << 20);

    println!();
    println!("fastest of {rounds} rounds; {files} files of {file_kib} KiB, one of {big_mib} MiB");
    println!(
        "{:<34} {:>10} {:>10} {:>9}",
        "download", "1st byte ms", "MiB/s", "total s"
    );
    row("many: zip", zip_many);
    row("many: files one by one", plain_many);
    row(&format!("many: files, {CONCURRENCY} at once"), plain_many_8);
    row("big: zip", zip_big);
    row("big: the file", plain_big);
    println!();
    println!(
        "{:<34} {:>10} {:>10} {:>9}",
        "ratio zip / baseline", "1st byte", "MiB/s", "total"
    );
    ratios("many: zip / files one by one", zip_many, plain_many);
    ratios(
        &format!("many: zip / files {CONCURRENCY} at once"),
        zip_many,
        plain_many_8,
    );
    ratios("big: zip / the file", zip_big, plain_big);
    Ok(())
}
