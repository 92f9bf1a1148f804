//! Faults the sync loop must ride out, made real: the push listener loses
//! its broker connection or its queue while another device commits, and the
//! kernel's file watcher queue overflows.

use std::io;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use nimbus_client::daemon::SAFETY_INTERVAL;
use notify::{RecursiveMode, Watcher};
use uuid::Uuid;

use crate::helpers::{Cluster, DEADLINE, Device, deadline_wait, list_files, random_bytes};

// A change that arrives within the deadline did not wait for the periodic
// full round.
const _: () = assert!(DEADLINE.as_secs() < SAFETY_INTERVAL.as_secs());

/// Held by the test that lowers the machine's inotify queue limit while its
/// watcher starts, and by the test a watcher made in that window would break
/// (an overflowing watcher rescans on every event, so that folder is never
/// idle). The other tests sync correctly either way.
static INOTIFY_LIMIT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `rabbitmqctl` (installed with rabbitmq-server; the tests run as
/// root) and returns its output.
fn rabbitmqctl(args: &[&str]) -> String {
    let output = Command::new("rabbitmqctl")
        .arg("-q")
        .args(args)
        .output()
        .expect("rabbitmqctl is installed with rabbitmq-server");
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A RabbitMQ user for one device: the test finds that device's connection
/// and queue by it, and can refuse it new queues for a while (so that a
/// notification published meanwhile is certainly lost to it). Deleted when
/// dropped.
struct BrokerUser {
    name: String,
    password: String,
    vhost: String,
}

/// Configure permission of a user who may declare exchanges (the RPC
/// client does on connecting) but no server-named queue (a listener's).
const NO_NEW_LISTENER_QUEUES: &str = r"^(?!amq\.gen-).*";

impl BrokerUser {
    /// A fresh user with all rights on the vhost of `amqp_url`.
    fn create(amqp_url: &str) -> Self {
        let url = reqwest::Url::parse(amqp_url).expect("an AMQP URL");
        let vhost = match url.path() {
            "" | "/" | "/%2f" | "/%2F" => "/".to_owned(),
            path => path.trim_start_matches('/').to_owned(),
        };
        let user = Self {
            name: format!("nimbus-test-{}", Uuid::new_v4().simple()),
            password: Uuid::new_v4().simple().to_string(),
            vhost,
        };
        rabbitmqctl(&["add_user", &user.name, &user.password]);
        user.allow_new_listener_queues(true);
        user
    }

    /// `amqp_url` with this user's credentials.
    fn url(&self, amqp_url: &str) -> String {
        let mut url = reqwest::Url::parse(amqp_url).expect("an AMQP URL");
        url.set_username(&self.name).expect("a URL with a host");
        url.set_password(Some(&self.password))
            .expect("a URL with a host");
        url.to_string()
    }

    /// Makes `device` use this user for everything it does over AMQP.
    fn adopt(&self, device: &Device) {
        let (mut config, token) = device.config.load().expect("a logged-in device");
        config.amqp_url = self.url(&config.amqp_url);
        device.config.save(&config, &token).unwrap();
    }

    fn allow_new_listener_queues(&self, allowed: bool) {
        let configure = if allowed {
            ".*"
        } else {
            NO_NEW_LISTENER_QUEUES
        };
        rabbitmqctl(&[
            "set_permissions",
            "-p",
            &self.vhost,
            &self.name,
            configure,
            ".*",
            ".*",
        ]);
    }

    /// The process ids of this user's connections.
    fn connections(&self) -> Vec<String> {
        rabbitmqctl(&["list_connections", "--no-table-headers", "pid", "user"])
            .lines()
            .filter_map(|line| {
                let mut fields = line.split('\t');
                let pid = fields.next()?;
                (fields.next()? == self.name).then(|| pid.to_owned())
            })
            .collect()
    }

    /// The queues this user's channels consume: its listeners'. (They are
    /// not exclusive, so no connection owns them.)
    fn queues(&self) -> Vec<String> {
        let channels: Vec<String> =
            rabbitmqctl(&["list_channels", "--no-table-headers", "pid", "user"])
                .lines()
                .filter_map(|line| {
                    let (pid, user) = line.split_once('\t')?;
                    (user == self.name).then(|| pid.to_owned())
                })
                .collect();
        rabbitmqctl(&[
            "list_consumers",
            "--no-table-headers",
            "-p",
            &self.vhost,
            "queue_name",
            "channel_pid",
        ])
        .lines()
        .filter_map(|line| {
            let (name, channel) = line.split_once('\t')?;
            channels
                .iter()
                .any(|c| c == channel)
                .then(|| name.to_owned())
        })
        .collect()
    }

    /// Waits until the device listens (has a queue); returns the queue.
    async fn listening_queue(&self) -> String {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Some(queue) = self.queues().pop() {
                return queue;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the device never subscribed to push notifications"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the device has no queue (its listener is down).
    async fn not_listening(&self) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while !self.queues().is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the device's notification queue never went away"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for BrokerUser {
    fn drop(&mut self) {
        let _ = Command::new("rabbitmqctl")
            .args(["-q", "delete_user", &self.name])
            .output();
    }
}

/// While B cannot subscribe again, A commits `name`; then B may subscribe
/// and must catch up from its cursor (the push for `name` went to nobody).
async fn commit_while_unsubscribed(a: &Device, b: &Device, broker_user: &BrokerUser, name: &str) {
    broker_user.not_listening().await;
    std::fs::write(a.root.join(name), name).unwrap();
    a.sync().await;
    assert!(
        broker_user.queues().is_empty(),
        "B subscribed again before A's commit; its notification was not lost"
    );
    broker_user.allow_new_listener_queues(true);
    deadline_wait(
        "B catches up with a change made while it was not listening",
        || std::fs::read(b.root.join(name)).ok().as_deref() == Some(name.as_bytes()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_recovers_when_the_push_listener_drops() {
    let cluster = Cluster::spawn().await;
    cluster.add_user("frank").await;
    let a = cluster.device("frank", "laptop").await;
    let b = cluster.device("frank", "desktop").await;
    let (config, _) = b.config.load().unwrap();
    let broker_user = BrokerUser::create(&config.amqp_url);
    broker_user.adopt(&b);
    let running_b = b.start().await;

    // The connection is closed, as by a broker restart.
    broker_user.listening_queue().await;
    broker_user.allow_new_listener_queues(false);
    for connection in broker_user.connections() {
        rabbitmqctl(&["close_connection", &connection, "test: the broker restarts"]);
    }
    commit_while_unsubscribed(&a, &b, &broker_user, "while-disconnected.txt").await;

    // The queue is deleted under a live connection (the broker cancels the
    // listener's consumer).
    let queue = broker_user.listening_queue().await;
    broker_user.allow_new_listener_queues(false);
    rabbitmqctl(&["delete_queue", "-p", &broker_user.vhost, &queue]);
    commit_while_unsubscribed(&a, &b, &broker_user, "while-unsubscribed.txt").await;

    // Pushes arrive again.
    broker_user.listening_queue().await;
    std::fs::write(a.root.join("after.txt"), b"after").unwrap();
    a.sync().await;
    deadline_wait("a change is pushed after the listener recovered", || {
        b.root.join("after.txt").exists()
    })
    .await;
    running_b.stop().await;
    assert_eq!(list_files(&a.root), list_files(&b.root));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_folder_is_not_rescanned_by_its_own_scans() {
    let _normal_watchers = INOTIFY_LIMIT.lock().await;
    let cluster = Cluster::spawn().await;
    cluster.add_user("heidi").await;
    let a = cluster.device("heidi", "laptop").await;
    std::fs::create_dir_all(a.root.join("docs/deep")).unwrap();
    std::fs::write(a.root.join("docs/deep/notes.txt"), b"notes").unwrap();
    let mut running = a.start().await;
    running.first_round().await;
    // Scanning and uploading open every folder and file, which the watcher
    // reports; taken for changes, they would start round after round.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let settled = running.quiet_rounds();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let idle_rounds = running.quiet_rounds() - settled;
    running.stop().await;
    assert_eq!(idle_rounds, 0, "rounds ran with nothing changed");
    cluster.stop().await;
}

const QUEUE_LIMIT: &str = "/proc/sys/fs/inotify/max_queued_events";

/// Lowers the kernel's inotify queue limit while it lives. The limit is
/// read when an inotify instance is created, so only watchers created
/// meanwhile get it; the machine-wide value is restored on drop.
struct InotifyQueueLimit {
    previous: String,
}

impl InotifyQueueLimit {
    fn lower_to(limit: u32) -> io::Result<Self> {
        let previous = std::fs::read_to_string(QUEUE_LIMIT)?;
        std::fs::write(QUEUE_LIMIT, limit.to_string())?;
        Ok(Self { previous })
    }
}

impl Drop for InotifyQueueLimit {
    fn drop(&mut self) {
        if let Err(error) = std::fs::write(QUEUE_LIMIT, self.previous.trim()) {
            eprintln!("cannot restore {QUEUE_LIMIT} to {}: {error}", self.previous);
        }
    }
}

/// Whether a watcher on `dir` created now reports an overflow (a
/// rescan-needed event) for a single new file.
fn watcher_overflows(dir: &Path) -> bool {
    let (sender, events) = std::sync::mpsc::channel();
    let mut watcher = notify::recommended_watcher(sender).expect("an inotify watcher");
    watcher
        .watch(dir, RecursiveMode::Recursive)
        .expect("watch a folder");
    std::fs::write(dir.join("probe"), b"probe").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while let Some(wait) = deadline.checked_duration_since(std::time::Instant::now()) {
        match events.recv_timeout(wait) {
            Ok(Ok(event)) if event.need_rescan() => return true,
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_overflow_rescans_and_every_file_syncs() {
    let cluster = Cluster::spawn().await;
    cluster.add_user("grace").await;
    let a = cluster.device("grace", "laptop").await;
    let b = cluster.device("grace", "desktop").await;
    let running_b = b.start().await;

    // With a queue limit of zero every event overflows: A's watcher then
    // reports nothing but "rescan needed", so whatever syncs went through
    // that path alone.
    let exclusive = INOTIFY_LIMIT.lock().await;
    let limit = match InotifyQueueLimit::lower_to(0) {
        Ok(limit) => limit,
        Err(error) => {
            eprintln!("skipped: cannot lower {QUEUE_LIMIT} ({error}); the test needs root");
            running_b.stop().await;
            cluster.stop().await;
            return;
        }
    };
    let probe_dir = tempfile::tempdir().unwrap();
    let kernel_overflows = watcher_overflows(probe_dir.path());
    let mut running_a = a.start().await;
    running_a.first_round().await;
    drop(limit);
    drop(exclusive);
    assert!(
        kernel_overflows,
        "a watcher created with {QUEUE_LIMIT} at 0 did not overflow"
    );

    // Many files at once, in new folders and at the top.
    let folders = 20;
    let per_folder = 100;
    for folder in 0..folders {
        let dir = a.root.join(format!("batch{folder:02}"));
        std::fs::create_dir(&dir).unwrap();
        for file in 0..per_folder {
            let seed = (folder * per_folder + file) as u64;
            std::fs::write(dir.join(format!("f{file:03}.bin")), random_bytes(512, seed)).unwrap();
        }
    }
    std::fs::write(a.root.join("last.txt"), b"written last").unwrap();
    let expected = folders * per_folder + 1;
    let count_files = |root: &Path| {
        list_files(root)
            .values()
            .filter(|bytes| bytes.is_some())
            .count()
    };
    deadline_wait("every file written during the overflow reaches B", || {
        count_files(&b.root) == expected
    })
    .await;
    running_a.stop().await;
    running_b.stop().await;
    assert_eq!(list_files(&a.root), list_files(&b.root));
    cluster.stop().await;
}
