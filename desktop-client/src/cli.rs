//! The `nimbus` commands: `login`, `workspace`, `sync`, `share`, `link`, `status`, `logout`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use indicatif::MultiProgress;
use nimbus_protocol::client::ClientOptions;
use nimbus_protocol::names::validate_name;
use nimbus_protocol::rpc::{
    CreateWorkspaceArgs, DeviceArgs, EncryptionMode, ErrorCode, LoginArgs, Password, Role,
};
use nimbus_protocol::{RpcClient, Topology};

use crate::config::{Config, ConfigDir, default_dir};
use crate::daemon::{self, Target};
use crate::engine::names::is_conflicted_copy;
use crate::engine::planner::case_clashes;
use crate::engine::{FailedDownload, PlanContext, plan};
use crate::link::{self, LinkArgs};
use crate::mounts::{self, ACCESS_ENDED_KEY};
use crate::passphrase::{self, PassphraseSource};
use crate::share::{self, ShareArgs, format_time, role_name};
use crate::state::SqliteStore;

/// Keeps a folder in sync with your Nimbus workspace.
#[derive(Debug, Parser)]
#[command(name = "nimbus", version, about)]
pub struct Cli {
    /// Where login, token and folder state are kept.
    #[arg(long, env = "NIMBUS_CONFIG_DIR", global = true)]
    pub config_dir: Option<PathBuf>,
    /// More detail in the log (also: RUST_LOG=nimbus_client=debug).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Logs this device in and keeps a long-lived device token.
    Login {
        /// The Nimbus proxy, e.g. http://127.0.0.1:8080
        proxy_url: String,
        #[arg(long)]
        user: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// This device's name (shown in conflicted copies); default: the host name.
        #[arg(long)]
        device: Option<String>,
    },
    /// Creates and lists workspaces.
    Workspace {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
    /// Syncs DIR with a workspace until Ctrl-C (links DIR on first use).
    Sync {
        dir: PathBuf,
        /// One round, then exit.
        #[arg(long)]
        once: bool,
        /// The workspace to link DIR to on first use (default: your default
        /// workspace). A linked folder stays with its workspace.
        #[arg(long, value_name = "NAME")]
        workspace: Option<String>,
        /// Read the passphrase of an encrypted workspace from the first line
        /// of standard input instead of asking on the terminal.
        #[arg(long)]
        passphrase_stdin: bool,
    },
    /// Offers a workspace to other users; answers offers; members.
    Share(ShareArgs),
    /// Public links to synced files and folders: create, list, revoke.
    Link(LinkArgs),
    /// Pending work, conflicts and the last sync of the linked folders.
    Status {
        /// Only this folder.
        dir: Option<PathBuf>,
    },
    /// Revokes this device's token and forgets it.
    Logout,
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Creates a workspace of yours.
    Create {
        name: String,
        /// End to end: files are encrypted with keys derived from a
        /// passphrase that never leaves your devices. Without the passphrase
        /// nobody can read them, not even the server's administrator.
        #[arg(long)]
        encrypted: bool,
        /// Read the passphrase from the first line of standard input instead
        /// of asking twice on the terminal.
        #[arg(long, requires = "encrypted")]
        passphrase_stdin: bool,
    },
    /// Lists your workspaces.
    List,
}

impl Cli {
    pub fn config_dir(&self) -> anyhow::Result<ConfigDir> {
        Ok(ConfigDir::new(match &self.config_dir {
            Some(dir) => dir.clone(),
            None => default_dir()?,
        }))
    }
}

/// Runs one command.
pub async fn run(cli: Cli, progress: MultiProgress) -> anyhow::Result<()> {
    let config_dir = cli.config_dir()?;
    match cli.command {
        Command::Login {
            proxy_url,
            user,
            password_stdin,
            device,
        } => {
            let password = read_password(password_stdin)?;
            let device = device.unwrap_or_else(host_name);
            let config = login(&config_dir, &proxy_url, &user, &password, &device).await?;
            println!(
                "Logged in as {} on device \"{}\". Configuration in {}.",
                config.user,
                config.device_name,
                config_dir.path.display()
            );
            Ok(())
        }
        Command::Workspace { command } => match command {
            WorkspaceCommand::Create {
                name,
                encrypted,
                passphrase_stdin,
            } => {
                let passphrase = encrypted.then(|| PassphraseSource::asking(passphrase_stdin));
                create_workspace(&config_dir, &name, passphrase).await
            }
            WorkspaceCommand::List => list_workspaces(&config_dir).await,
        },
        Command::Sync {
            dir,
            once,
            workspace,
            passphrase_stdin,
        } => {
            let target = Target {
                workspace,
                passphrase: PassphraseSource::asking(passphrase_stdin),
                ..Target::default()
            };
            sync(&config_dir, &dir, once, &target, progress).await
        }
        Command::Share(args) => share::run(&config_dir, args).await,
        Command::Link(args) => link::run(&config_dir, args).await,
        Command::Status { dir } => status(&config_dir, dir.as_deref()).await,
        Command::Logout => logout(&config_dir).await,
    }
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "desktop".into())
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let password = passphrase::read_secret("Password: ", from_stdin, "--password-stdin")?;
    if password.is_empty() {
        bail!("no password given");
    }
    Ok(password.to_string())
}

/// Logs in through the proxy's TempAuth (which tells where the metadata RPC
/// is), then over the RPC for a device token that lives until revoked.
pub async fn login(
    config_dir: &ConfigDir,
    proxy_url: &str,
    user: &str,
    password: &str,
    device: &str,
) -> anyhow::Result<Config> {
    let proxy_url = proxy_url.trim_end_matches('/').to_owned();
    let response = reqwest::Client::new()
        .get(format!("{proxy_url}/auth/v1.0"))
        .header("X-Auth-User", format!("{user}:{user}"))
        .header("X-Auth-Key", password)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .with_context(|| format!("cannot reach the proxy at {proxy_url}"))?;
    match response.status().as_u16() {
        200..=299 => {}
        401 | 403 => bail!("wrong user name or password"),
        status => bail!("the proxy answered {status} to the login"),
    }
    let header = |name: &str| -> anyhow::Result<String> {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .with_context(|| format!("the proxy did not send {name}; is it a Nimbus proxy?"))
    };
    let amqp_url = header("x-nimbus-rpc-url")?;
    let queue_prefix = header("x-nimbus-rpc-prefix")?;
    let rpc = RpcClient::connect_device(
        &amqp_url,
        Topology::new(queue_prefix.clone()),
        ClientOptions::default(),
    )
    .await?;
    let reply = rpc
        .login(LoginArgs {
            username: user.to_owned(),
            password: Password(password.to_owned()),
            device: DeviceArgs {
                device_name: device.to_owned(),
                os: Some(std::env::consts::OS.to_owned()),
                app_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            },
            token_ttl_secs: None,
        })
        .await
        .map_err(|e| match e.rpc_code() {
            Some(ErrorCode::InvalidCredentials) => anyhow::anyhow!("wrong user name or password"),
            _ => anyhow::Error::new(e),
        })?;
    let config = Config {
        proxy_url,
        amqp_url,
        queue_prefix,
        user: user.to_owned(),
        user_id: reply.user_id,
        device_name: device.to_owned(),
        device_id: reply.device_id,
    };
    config_dir.save(&config, &reply.token)?;
    Ok(config)
}

/// Creates a workspace; `passphrase` makes it end-to-end encrypted.
async fn create_workspace(
    config_dir: &ConfigDir,
    name: &str,
    passphrase: Option<PassphraseSource>,
) -> anyhow::Result<()> {
    // Checked here too, so nobody types a passphrase for a name the server refuses.
    validate_name(name).with_context(|| format!("{name:?} cannot name a workspace"))?;
    let (config, token) = config_dir.load()?;
    // Connect first: an unreachable broker shows before the passphrase is asked.
    let rpc = config.connect_rpc().await?;
    // The id salts the keys, so the device chooses it before deriving them.
    let workspace_id = uuid::Uuid::new_v4();
    let key_check = match &passphrase {
        Some(source) => {
            let passphrase = source.new_workspace(name)?;
            let keys = passphrase::derive_keys(workspace_id, &passphrase).await?;
            keys.key_check()
        }
        None => None,
    };
    let created = rpc
        .create_workspace(
            &token,
            CreateWorkspaceArgs {
                workspace_id,
                name: name.to_owned(),
                encryption: if passphrase.is_some() {
                    EncryptionMode::Client
                } else {
                    EncryptionMode::None
                },
                key_check,
            },
        )
        .await
        .map_err(|e| match e {
            nimbus_protocol::ClientError::Rpc(refusal) => anyhow::anyhow!("{}", refusal.message),
            other => anyhow::Error::new(other),
        })
        .context("the workspace was not created")?;
    println!(
        "Created workspace \"{}\"{}. Sync a folder with it: nimbus sync <DIR> --workspace \"{}\"",
        created.name,
        if passphrase.is_some() {
            " (end-to-end encrypted)"
        } else {
            ""
        },
        created.name
    );
    if passphrase.is_some() {
        println!(
            "Keep the passphrase safe: every device needs it, and without it the files \
             cannot be recovered by anyone."
        );
    }
    Ok(())
}

/// Prints the workspaces of the logged-in user.
async fn list_workspaces(config_dir: &ConfigDir) -> anyhow::Result<()> {
    let (config, token) = config_dir.load()?;
    let rpc = config.connect_rpc().await?;
    let workspaces = rpc.get_workspaces(&token).await?;
    let width = workspaces.iter().map(|w| w.name.len()).max().unwrap_or(0);
    for workspace in workspaces {
        let encryption = match workspace.encryption {
            EncryptionMode::None => "not encrypted",
            EncryptionMode::Server => "encrypted at rest",
            EncryptionMode::Client => "end-to-end encrypted",
        };
        let role = role_name(workspace.role);
        println!(
            "{:width$}  {encryption:20}  {role}{}",
            workspace.name,
            if workspace.is_default {
                "  (default)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

async fn sync(
    config_dir: &ConfigDir,
    dir: &Path,
    once: bool,
    target: &Target,
    progress: MultiProgress,
) -> anyhow::Result<()> {
    let mut session = daemon::open_target(config_dir, dir, Some(progress), target).await?;
    if once {
        let round = session.sync_round().await?;
        session.store.close().await;
        println!(
            "{}: {} operations in {} passes{}",
            session.root.display(),
            round.ops,
            round.passes,
            if round.quiet {
                "; in sync"
            } else {
                "; more to do"
            }
        );
        return Ok(());
    }
    let shutdown = shutdown_signal()?;
    eprintln!(
        "Syncing {} with workspace \"{}\". Press Ctrl-C to stop.",
        session.root.display(),
        session.workspace.name
    );
    let result = daemon::run(&mut session, shutdown, |_| {}).await;
    session.store.close().await;
    eprintln!("Stopped.");
    Ok(result?)
}

/// Ctrl-C, or SIGTERM on Unix. The handlers are installed when this is
/// called (not when first awaited), so a signal right after start-up is
/// not lost.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

/// Prints what the state databases say; needs no network.
async fn status(config_dir: &ConfigDir, only: Option<&Path>) -> anyhow::Result<()> {
    match config_dir.load() {
        Ok((config, _)) => println!(
            "Logged in as {} (device \"{}\") at {}",
            config.user, config.device_name, config.proxy_url
        ),
        Err(_) => println!("Not logged in."),
    }
    let dirs = match only {
        Some(dir) => {
            let root = std::path::absolute(dir)?;
            let state = config_dir.folder_dir(&root);
            if !state.join("state.db").is_file() {
                bail!("{} is not a linked folder", root.display());
            }
            vec![state]
        }
        None => config_dir.folder_dirs(),
    };
    if dirs.is_empty() {
        println!("No linked folder; run `nimbus sync <DIR>`.");
    }
    for dir in dirs {
        let store = SqliteStore::open(&dir.join("state.db")).await?;
        let report = folder_status(&store).await?;
        store.close().await;
        print!("{report}");
    }
    Ok(())
}

/// The status report of one folder's state.
pub async fn folder_status(store: &SqliteStore) -> anyhow::Result<String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    let root = store.get("root").await?.unwrap_or_default();
    let loaded = store.load().await?;
    writeln!(out, "\n{root}")?;
    writeln!(
        out,
        "  files and folders: {} (server revision {})",
        loaded.trees.synced.len(),
        loaded.cursor
    )?;
    let ignore = mounts::ignoring_mounts(Path::new(&root), mounts::names(store).await?);
    let ignored = move |p: &str, f: bool| ignore(p, f);
    let stuck = Default::default();
    let ctx = PlanContext {
        device: "status",
        now_ms: 0,
        ignored: &ignored,
        stuck: &stuck,
        case_insensitive: crate::fs::root_is_case_insensitive(Path::new(&root)),
    };
    let ops = plan(&loaded.trees, &ctx);
    let work: usize = ops
        .iter()
        .map(|op| match op {
            crate::engine::Op::Commit(items) => items.len(),
            _ => 1,
        })
        .sum();
    let pending = loaded.pending.as_ref().map_or(0, |p| p.items.len());
    if work == 0 && pending == 0 {
        writeln!(out, "  pending: nothing (as of the last scan)")?;
    } else {
        writeln!(
            out,
            "  pending: {work} changes to sync{}",
            if pending > 0 {
                format!(", a commit of {pending} items to re-send")
            } else {
                String::new()
            }
        )?;
    }
    let conflicts: Vec<String> = loaded
        .trees
        .local
        .nodes()
        .filter(|n| is_conflicted_copy(&n.name))
        .filter_map(|n| loaded.trees.local.path(&n.id))
        .collect();
    writeln!(out, "  conflicted copies: {}", conflicts.len())?;
    for path in &conflicts {
        writeln!(out, "    {path}")?;
    }
    let clashes = case_clashes(&loaded.trees, &ctx);
    if !clashes.is_empty() {
        writeln!(out, "  case clashes (not synced here): {}", clashes.len())?;
        for clash in &clashes {
            writeln!(out, "    {clash}")?;
        }
    }
    if store.get(ACCESS_ENDED_KEY).await?.is_some() {
        writeln!(
            out,
            "  access ended: this shared folder is no longer synced; its files stay here"
        )?;
    }
    for mount in mounts::records(store).await? {
        let path = Path::new(&root).join(&mount.name);
        if mount.ended {
            let path = path.display();
            writeln!(
                out,
                "  {path}: a share whose access ended, not synced. Keep its files as your own: \
                 `nimbus share adopt \"{path}\"`; or delete them: `nimbus share delete \"{path}\"`"
            )?;
        } else if mount.role == Role::Owner {
            writeln!(
                out,
                "  a workspace of yours (a folder you shared): {}",
                path.display()
            )?;
        } else {
            writeln!(
                out,
                "  shared with you: {} as {}{}",
                path.display(),
                role_name(mount.role),
                if mount.role.can_write() {
                    ""
                } else {
                    " (read-only: local changes stay on this device, edits that meet the \
                     owner's as conflicted copies)"
                }
            )?;
        }
    }
    let failed: Vec<FailedDownload> = match store.get("status.failed_downloads").await? {
        Some(json) => serde_json::from_str(&json).context("damaged failed-download status")?,
        None => Vec::new(),
    };
    if !failed.is_empty() {
        writeln!(out, "  stuck downloads: {}", failed.len())?;
        for download in &failed {
            writeln!(
                out,
                "    {}: {} (failed {} times in a row; next try at {})",
                download.path,
                download.reason,
                download.failures,
                format_time(download.retry_at_ms)
            )?;
        }
    }
    let last = match store.get("status.last_sync_ms").await? {
        Some(ms) => ms.parse::<i64>().map_or(ms, format_time),
        None => "never".into(),
    };
    writeln!(out, "  last sync: {last}")?;
    if let Some(error) = store.get("status.last_error").await? {
        writeln!(out, "  last error: {error}")?;
    }
    Ok(out)
}

async fn logout(config_dir: &ConfigDir) -> anyhow::Result<()> {
    let (config, token) = config_dir.load()?;
    let rpc = config.connect_rpc().await?;
    match rpc.logout(&token).await {
        Ok(()) => {}
        Err(e) if e.rpc_code() == Some(ErrorCode::Unauthenticated) => {}
        Err(e) => return Err(e).context("the server did not revoke the token; try again"),
    }
    config_dir.delete_token()?;
    println!("Logged out; this device's token is revoked.");
    Ok(())
}
