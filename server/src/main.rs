//! `nimbus-server`: run a metadata server, migrate its database, manage users.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use nimbus_protocol::admin::DeletedUserReply;
use nimbus_protocol::client::ClientOptions;
use nimbus_protocol::rpc::Operation;
use nimbus_protocol::{RpcClient, Topology};
use nimbus_server::admin::{self, AddUser};
use nimbus_server::startup::connect_store;
use nimbus_server::storage::{Actor, Audit, AuditAction, AuditFilter};
use nimbus_server::{Application, Settings, telemetry};
use rand::Rng;

#[derive(Parser)]
#[command(name = "nimbus-server", version, about = "Nimbus metadata server")]
struct Cli {
    /// TOML configuration file; NIMBUS_* environment variables override it.
    #[arg(long, short, env = "NIMBUS_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve metadata requests until SIGTERM or Ctrl-C.
    Serve,
    /// Create the database schema or bring it up to date, then exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the applications (OAuth consumers) that may use the REST API.
    #[command(subcommand)]
    Oauth(OauthCommand),
    /// See and manage sharing between users.
    #[command(subcommand)]
    Share(ShareCommand),
    /// See and revoke public links.
    #[command(subcommand)]
    Link(LinkCommand),
    /// Print the audit log (sign-ins, sharing and administrative actions),
    /// newest first.
    Audit {
        /// Only what this user did or was the target of.
        #[arg(long)]
        user: Option<String>,
        /// Only records from this time on (RFC 3339, e.g. 2026-12-07T00:00:00Z).
        #[arg(long, value_parser = parse_time)]
        since: Option<i64>,
        /// At most this many records.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

#[derive(Subcommand)]
enum LinkCommand {
    /// List every public link, newest first, with whether it still works.
    List,
    /// End a public link at once.
    Revoke { link_id: uuid::Uuid },
}

#[derive(Subcommand)]
enum ShareCommand {
    /// List share proposals, newest first.
    Proposals {
        /// Only those still waiting for an answer.
        #[arg(long)]
        pending: bool,
    },
    /// Cancel a pending proposal.
    CancelProposal { proposal_id: uuid::Uuid },
    /// Show the workspaces a user owns (with their members) and those the
    /// user is a member of.
    User { username: String },
}

#[derive(Subcommand)]
enum OauthCommand {
    /// Register an application; prints its consumer key and secret once.
    AddConsumer {
        /// The name users see when asked to allow access.
        name: String,
        /// URL prefix the application may send users back to after they
        /// allow access (without it, only the out-of-band "oob" flow works).
        #[arg(long)]
        callback: Option<String>,
    },
    /// List registered applications.
    ListConsumers,
    /// Remove an application and end every access it was given.
    RemoveConsumer { consumer_key: String },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user with a default workspace. Without --password-stdin a random
    /// password is generated and printed once.
    Add {
        username: String,
        #[arg(long)]
        email: Option<String>,
        /// Quota in GiB (default: the server's default_quota_bytes).
        #[arg(long)]
        quota_gib: Option<u64>,
        /// Make the user an administrator of this Nimbus installation.
        #[arg(long)]
        admin: bool,
        /// Join an existing account (tenant) instead of getting a new one.
        #[arg(long)]
        account: Option<String>,
        /// With --account: join as a plain user rather than an account administrator.
        #[arg(long, requires = "account")]
        no_account_admin: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users with their usage (logical: the current size of their
    /// live files; stored: what their retained versions keep, which quota
    /// counts), quota and state.
    List,
    /// Delete a user, their devices, sessions, tokens, links and proposals,
    /// and the workspaces they own. For each workspace they share with
    /// others, say whether it goes to a member or is deleted; without a
    /// choice for each, nothing is deleted. Needs a running metadata server.
    Delete {
        username: String,
        /// Hand a shared workspace (name or id) to one of its members.
        #[arg(long, value_name = "WORKSPACE=MEMBER")]
        transfer: Vec<String>,
        /// Delete a shared workspace (name or id) with what it holds.
        #[arg(long, value_name = "WORKSPACE")]
        delete_shared: Vec<String>,
    },
    /// Set a user's quota.
    SetQuota {
        username: String,
        /// Quota in GiB.
        #[arg(long)]
        gib: u64,
    },
    /// Disable a user: logins and all of the user's tokens stop working.
    Disable { username: String },
    /// Enable a disabled user again.
    Enable { username: String },
    /// Set a new password and revoke all of the user's devices.
    ResetPassword {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init();
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => {
            let application = Application::build(settings).await?;
            application.run_until_stopped(shutdown_signal()).await
        }
        Command::Migrate => {
            connect_store(&settings).await?;
            eprintln!("the metadata database is up to date");
            Ok(())
        }
        Command::User(command) => run_user_command(&settings, command).await,
        Command::Oauth(command) => run_oauth_command(&settings, command).await,
        Command::Share(command) => run_share_command(&settings, command).await,
        Command::Link(command) => run_link_command(&settings, command).await,
        Command::Audit { user, since, limit } => {
            let store = connect_store(&settings).await?;
            print_audit(store.as_ref(), AuditFilter { user, since, limit }).await
        }
    }
}

async fn print_audit(
    store: &dyn nimbus_server::storage::MetadataStore,
    filter: AuditFilter,
) -> anyhow::Result<()> {
    println!(
        "{:<20}  {:<16} {:<18} {:<16} {:<36}  detail",
        "time", "actor", "action", "target", "workspace"
    );
    for record in store.audit_log(&filter).await? {
        println!(
            "{:<20}  {:<16} {:<18} {:<16} {:<36}  {}",
            format_millis(record.at),
            record.actor.name.as_deref().unwrap_or("-"),
            record.action,
            record.target.as_deref().unwrap_or("-"),
            record
                .workspace_id
                .map_or_else(|| "-".to_owned(), |id| id.to_string()),
            record.detail
        );
    }
    Ok(())
}

/// Milliseconds since the epoch from an RFC 3339 time.
fn parse_time(text: &str) -> Result<i64, String> {
    let time = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("{text:?} is not an RFC 3339 time like 2026-12-07T00:00:00Z: {e}"))?;
    i64::try_from(time.unix_timestamp_nanos() / 1_000_000).map_err(|e| e.to_string())
}

async fn run_link_command(settings: &Settings, command: LinkCommand) -> anyhow::Result<()> {
    let store = connect_store(settings).await?;
    match command {
        LinkCommand::List => {
            println!(
                "{:<36}  {:<19}  {:<16} {:<9} {:<24} expires",
                "link", "status", "creator", "downloads", "target"
            );
            for link in store.all_links().await? {
                let info = &link.info;
                let downloads = match info.max_downloads {
                    Some(max) => format!("{}/{max}", info.downloads),
                    None => info.downloads.to_string(),
                };
                println!(
                    "{}  {:<19}  {:<16} {:<9} {:<24} {}",
                    info.link_id,
                    serde_json::to_value(info.status)?
                        .as_str()
                        .unwrap_or_default(),
                    link.creator_name,
                    downloads,
                    format!("{}{}", info.name, if info.is_folder { "/" } else { "" }),
                    info.expires_at
                        .map_or_else(|| "never".into(), format_millis)
                );
            }
        }
        LinkCommand::Revoke { link_id } => {
            let audit = Audit::new(Actor::command_line(), AuditAction::LinkRevoke);
            let Some(link) = store.revoke_link(link_id, None, &audit).await? else {
                anyhow::bail!("there is no link {link_id}");
            };
            println!("revoked the link {link_id} to {:?}", link.name);
        }
    }
    Ok(())
}

async fn run_share_command(settings: &Settings, command: ShareCommand) -> anyhow::Result<()> {
    let store = connect_store(settings).await?;
    match command {
        ShareCommand::Proposals { pending } => {
            println!(
                "{:<36}  {:<9}  {:<6}  {:<16} {:<16} {:<24} expires",
                "proposal", "status", "role", "from", "to", "workspace"
            );
            for p in store.all_proposals(pending).await? {
                println!(
                    "{}  {:<9}  {:<6}  {:<16} {:<16} {:<24} {}",
                    p.proposal_id,
                    format!("{:?}", p.status).to_lowercase(),
                    format!("{:?}", p.role).to_lowercase(),
                    p.proposer_name,
                    p.invitee_name,
                    p.workspace_name,
                    format_millis(p.expires_at)
                );
            }
        }
        ShareCommand::CancelProposal { proposal_id } => {
            let proposal =
                admin::cancel_proposal(store.as_ref(), &Actor::command_line(), proposal_id).await?;
            println!(
                "cancelled the proposal of {:?} from {} to {}",
                proposal.workspace_name, proposal.proposer_name, proposal.invitee_name
            );
        }
        ShareCommand::User { username } => {
            let shares = admin::user_shares(store.as_ref(), &username).await?;
            println!(
                "{}: {} of {} MiB used",
                shares.user.username,
                shares.user.quota_used >> 20,
                shares.user.quota_limit >> 20
            );
            println!("owns:");
            for entry in &shares.owned {
                let others: Vec<String> = entry
                    .members
                    .iter()
                    .filter(|m| m.user_id != shares.user.id)
                    .map(|m| format!("{} ({:?})", m.username, m.role).to_lowercase())
                    .collect();
                println!(
                    "  {}  {:<24} {:>10} MiB  members: {}",
                    entry.workspace.workspace_id,
                    entry.workspace.name,
                    entry.usage >> 20,
                    if others.is_empty() {
                        "none".to_owned()
                    } else {
                        others.join(", ")
                    }
                );
            }
            println!("member of:");
            for entry in &shares.member_of {
                let owner = entry
                    .members
                    .iter()
                    .find(|m| m.user_id == entry.workspace.owner_id)
                    .map_or("?", |m| m.username.as_str());
                println!(
                    "  {}  {:<24} {:<7} owner: {owner}",
                    entry.workspace.workspace_id,
                    entry.workspace.name,
                    format!("{:?}", entry.workspace.role).to_lowercase()
                );
            }
        }
    }
    Ok(())
}

/// A UTC time for people, from milliseconds since the epoch.
fn format_millis(millis: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(millis / 1000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| millis.to_string())
}

async fn run_user_command(settings: &Settings, command: UserCommand) -> anyhow::Result<()> {
    let store = connect_store(settings).await?;
    match command {
        UserCommand::Add {
            username,
            email,
            quota_gib,
            admin,
            account,
            no_account_admin,
            password_stdin,
        } => {
            let (password, generated) = password_from(password_stdin)?;
            let user = admin::add_user(
                store.as_ref(),
                &Actor::command_line(),
                AddUser {
                    username,
                    password: password.clone(),
                    email,
                    quota_bytes: quota_gib.map_or(settings.default_quota_bytes, |g| g << 30),
                    is_admin: admin,
                    account_admin: account.is_none() || !no_account_admin,
                    account,
                },
            )
            .await?;
            println!(
                "created user {} (account AUTH_{})",
                user.username, user.account
            );
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::List => {
            println!(
                "{:<24} {:<24} {:>12} {:>12} {:>12}  flags",
                "user", "account", "logical MiB", "stored MiB", "quota MiB"
            );
            for usage in store.list_users().await? {
                let user = &usage.user;
                let flags = [
                    (user.is_admin, "admin"),
                    (user.account_admin, "account-admin"),
                    (user.disabled, "disabled"),
                ]
                .iter()
                .filter(|(set, _)| *set)
                .map(|(_, name)| *name)
                .collect::<Vec<_>>()
                .join(",");
                println!(
                    "{:<24} {:<24} {:>12} {:>12} {:>12}  {flags}",
                    user.username,
                    user.account,
                    usage.logical_bytes >> 20,
                    usage.stored_bytes >> 20,
                    user.quota_limit >> 20
                );
            }
        }
        UserCommand::Delete {
            username,
            transfer,
            delete_shared,
        } => {
            let args =
                admin::deletion_args(store.as_ref(), &username, &transfer, &delete_shared).await?;
            let rpc = RpcClient::connect(
                &settings.amqp_url,
                Topology::new(settings.queue_prefix.clone()),
                ClientOptions::default(),
            )
            .await
            .context("cannot reach the metadata servers through RabbitMQ")?;
            let reply: DeletedUserReply = rpc
                .call(None, Operation::AdminDeleteUser(args))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "deleted {username}: {} workspace(s) deleted, {} handed over, {} device(s) revoked",
                reply.deleted_workspaces.len(),
                reply.transferred_workspaces.len(),
                reply.revoked_devices
            );
        }
        UserCommand::SetQuota { username, gib } => {
            let bytes = gib
                .checked_mul(1 << 30)
                .context("that quota is too large")?;
            admin::set_quota(store.as_ref(), &Actor::command_line(), &username, bytes).await?;
            println!("quota of {username} set to {gib} GiB");
        }
        UserCommand::Disable { username } => {
            admin::set_disabled(store.as_ref(), &Actor::command_line(), &username, true).await?;
            println!("{username} disabled");
        }
        UserCommand::Enable { username } => {
            admin::set_disabled(store.as_ref(), &Actor::command_line(), &username, false).await?;
            println!("{username} enabled");
        }
        UserCommand::ResetPassword {
            username,
            password_stdin,
        } => {
            let (password, generated) = password_from(password_stdin)?;
            admin::reset_password(
                store.as_ref(),
                &Actor::command_line(),
                &username,
                password.clone(),
            )
            .await?;
            println!("password of {username} reset; all of its devices must log in again");
            if generated {
                println!("password: {password}");
            }
        }
    }
    Ok(())
}

async fn run_oauth_command(settings: &Settings, command: OauthCommand) -> anyhow::Result<()> {
    let store = connect_store(settings).await?;
    match command {
        OauthCommand::AddConsumer { name, callback } => {
            let consumer =
                admin::add_oauth_consumer(store.as_ref(), &Actor::command_line(), &name, callback)
                    .await?;
            println!("registered {}", consumer.name);
            println!("consumer key:    {}", consumer.key);
            println!("consumer secret: {}", consumer.secret);
        }
        OauthCommand::ListConsumers => {
            for consumer in store.list_oauth_consumers().await? {
                println!(
                    "{}  {}  {}",
                    consumer.key,
                    consumer.name,
                    consumer.callback_url.as_deref().unwrap_or("(oob only)")
                );
            }
        }
        OauthCommand::RemoveConsumer { consumer_key } => {
            let audit = Audit::new(Actor::command_line(), AuditAction::OAuthAppRemove)
                .detail(&consumer_key);
            if !store.remove_oauth_consumer(&consumer_key, &audit).await? {
                anyhow::bail!("there is no application with consumer key {consumer_key:?}");
            }
            println!("removed {consumer_key}");
        }
    }
    Ok(())
}

/// The password from standard input, or a generated one (`true`).
fn password_from(stdin: bool) -> anyhow::Result<(String, bool)> {
    if stdin {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .context("cannot read the password from standard input")?;
        let password = input.lines().next().unwrap_or_default().to_owned();
        return Ok((password, false));
    }
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    Ok((hex::encode(bytes), true))
}

async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested; finishing requests in flight");
}
