//! `nimbus share`: offering a workspace to other users, answering offers,
//! and the members of a shared workspace.
//!
//! The unit of sharing is a whole workspace (not the default one). Commands
//! that name one take a synced folder (its workspace comes from the local
//! state) or a workspace name. Proposals are named by their id or any
//! unambiguous start of it, as `nimbus share list` prints them.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use nimbus_protocol::client::ClientError;
use nimbus_protocol::rpc::{
    AcceptProposalArgs, ConvertFolderArgs, ConvertedFolder, DeviceToken, EncryptionMode, Member,
    Operation, Proposal, ProposalList, ProposalStatus, ProposeShareArgs, Role, WorkspaceInfo,
};
use nimbus_protocol::{RpcClient, names::validate_name};
use uuid::Uuid;

use crate::config::ConfigDir;
use crate::mounts;
use crate::passphrase::{self, PassphraseSource};
use crate::state::SqliteStore;

/// `nimbus share FOLDER --with USERS --role ROLE`, or one of the subcommands.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ShareArgs {
    #[command(subcommand)]
    pub command: Option<ShareCommand>,
    /// The workspace to offer: a synced folder or a workspace name.
    #[arg(required = true, value_name = "FOLDER_OR_WORKSPACE")]
    pub folder: Option<String>,
    /// Who to offer it to: user names or e-mail addresses, comma-separated.
    #[arg(
        long = "with",
        value_delimiter = ',',
        required = true,
        value_name = "USERS"
    )]
    pub with: Vec<String>,
    /// What they may do once they accept.
    #[arg(long, required = true)]
    pub role: Option<GrantedRole>,
    /// A note shown with the offer.
    #[arg(long, value_name = "TEXT")]
    pub message: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ShareCommand {
    /// Offers to you and offers you made, with their state.
    List,
    /// Joins the workspace of an offer to you; it appears as a folder in your
    /// sync folder. An end-to-end encrypted one asks for its passphrase
    /// (from its owner) and refuses a wrong one before anything changes.
    Accept {
        /// The offer's id (or its start) from `nimbus share list`.
        id: String,
        /// Your name for its folder (default: the owner's name for it).
        #[arg(long = "as", value_name = "NAME")]
        mount_name: Option<String>,
        /// Read the passphrase of an encrypted workspace from the first line
        /// of standard input instead of asking on the terminal.
        #[arg(long)]
        passphrase_stdin: bool,
    },
    /// Turns down an offer to you (it may be offered again).
    Decline { id: String },
    /// Withdraws an offer you made that is still pending.
    Cancel { id: String },
    /// Who has access to a workspace, and with which role.
    Members {
        #[arg(value_name = "FOLDER_OR_WORKSPACE")]
        folder: String,
    },
    /// Ends a member's access (owner only). Their files stay on their disks.
    Remove {
        #[arg(value_name = "FOLDER_OR_WORKSPACE")]
        folder: String,
        /// The member's user name or e-mail address.
        user: String,
    },
    /// Ends your own access to a workspace shared with you. Your copy stays
    /// on your disk as plain files.
    Leave {
        #[arg(value_name = "FOLDER_OR_WORKSPACE")]
        folder: String,
    },
    /// Keeps the files of a share whose access ended as your own: they join
    /// your own workspace at the next sync.
    Adopt {
        /// The ended share's folder, as `nimbus status` lists it.
        folder: PathBuf,
    },
    /// Deletes the local copy of a share whose access ended.
    Delete {
        /// The ended share's folder, as `nimbus status` lists it.
        folder: PathBuf,
    },
    /// Ends every member's access and every pending offer (owner only). The
    /// workspace stays yours, where it is.
    Unshare {
        #[arg(value_name = "FOLDER_OR_WORKSPACE")]
        folder: String,
    },
    /// Makes a member the owner (owner only; their quota must have room for
    /// the workspace). You stay as an editor.
    Transfer {
        #[arg(value_name = "FOLDER_OR_WORKSPACE")]
        folder: String,
        /// The member's user name or e-mail address.
        user: String,
    },
    /// Changes a member's role (owner only).
    Role {
        #[arg(value_name = "FOLDER_OR_WORKSPACE")]
        folder: String,
        /// The member's user name or e-mail address.
        user: String,
        role: GrantedRole,
    },
}

/// The roles a share grants; ownership moves only by a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GrantedRole {
    /// Reads and writes.
    Editor,
    /// Reads only; local edits are never uploaded.
    Viewer,
}

impl From<GrantedRole> for Role {
    fn from(role: GrantedRole) -> Self {
        match role {
            GrantedRole::Editor => Role::Editor,
            GrantedRole::Viewer => Role::Viewer,
        }
    }
}

/// A logged-in device's connection to the metadata RPC.
pub struct Connection {
    rpc: RpcClient,
    token: DeviceToken,
    config_dir: ConfigDir,
}

impl Connection {
    pub async fn open(config_dir: &ConfigDir) -> anyhow::Result<Self> {
        let (config, token) = config_dir.load()?;
        let rpc = config.connect_rpc().await?;
        Ok(Self {
            rpc,
            token,
            config_dir: config_dir.clone(),
        })
    }

    /// Calls `operation`; a refusal reads as the server's own explanation.
    pub(crate) async fn call<T: serde::de::DeserializeOwned>(
        &self,
        operation: Operation,
    ) -> anyhow::Result<T> {
        self.rpc
            .call(Some(&self.token), operation)
            .await
            .map_err(|error| match error {
                ClientError::Rpc(refusal) => anyhow!("{}", refusal.message),
                other => anyhow::Error::new(other),
            })
    }

    pub async fn workspaces(&self) -> anyhow::Result<Vec<WorkspaceInfo>> {
        self.call(Operation::GetWorkspaces).await
    }

    pub async fn proposals(&self) -> anyhow::Result<ProposalList> {
        self.call(Operation::ListProposals).await
    }

    /// The workspace `folder` names: the one a synced folder is linked to,
    /// else the one with that name, else the one a folder of the default
    /// workspace became (`nimbus share` on it).
    pub async fn resolve(&self, folder: &str) -> anyhow::Result<WorkspaceInfo> {
        self.resolve_or_convert(folder, false).await
    }

    /// [`Connection::resolve`]; with `convert`, a folder of the default
    /// workspace not converted yet becomes a workspace of its own
    /// (`convertFolder`), kept where it is on every device.
    async fn resolve_or_convert(
        &self,
        folder: &str,
        convert: bool,
    ) -> anyhow::Result<WorkspaceInfo> {
        let workspaces = self.workspaces().await?;
        let inside = match synced_folder(&self.config_dir, Path::new(folder)).await? {
            SyncedFolder::Root(workspace_id) => {
                return workspaces
                    .into_iter()
                    .find(|w| w.workspace_id == workspace_id)
                    .with_context(|| {
                        format!(
                            "{folder} syncs a workspace you are no longer a member of; \
                             `nimbus status` says what to do with its files"
                        )
                    });
            }
            SyncedFolder::Inside(root) => Some(root),
            SyncedFolder::No => None,
        };
        if let Some(found) = workspaces.iter().find(|w| w.name == folder) {
            return Ok(found.clone());
        }
        if let Some(root) = inside {
            return self
                .folder_workspace(&workspaces, &root, folder, convert)
                .await;
        }
        let names: Vec<&str> = workspaces.iter().map(|w| w.name.as_str()).collect();
        bail!(
            "{folder:?} is neither a synced folder nor one of your workspaces ({}); \
             name a folder you sync with `nimbus sync` or a workspace from `nimbus workspace list`",
            names.join(", ")
        )
    }

    /// The workspace the folder `folder` inside the synced folder `root`
    /// became, made now if `convert` allows. Only a folder of the default
    /// workspace that the server knows can become one.
    async fn folder_workspace(
        &self,
        workspaces: &[WorkspaceInfo],
        root: &Path,
        folder: &str,
        convert: bool,
    ) -> anyhow::Result<WorkspaceInfo> {
        let (root_workspace, item_id) = folder_item(&self.config_dir, root, folder).await?;
        let holder = workspaces.iter().find(|w| w.workspace_id == root_workspace);
        if let Some(holder) = holder.filter(|w| !w.is_default) {
            bail!(
                "{folder} is a folder inside the workspace \"{}\" ({}); shares do not nest: \
                 share that workspace as a whole instead",
                holder.name,
                root.display()
            );
        }
        let Some(item_id) = item_id else {
            bail!(
                "{folder} has not reached the server yet (or is not a folder); let `nimbus sync` \
                 upload it, then share it"
            );
        };
        if let Some(converted) = workspaces
            .iter()
            .find(|w| w.converted_from.is_some_and(|c| c.folder_id == item_id))
        {
            return Ok(converted.clone());
        }
        if !convert {
            bail!(
                "{folder} is a folder inside {}, not a workspace of its own; sharing it makes \
                 it one: nimbus share {folder} --with USERS --role editor|viewer",
                root.display()
            );
        }
        // The new id is chosen here: a request re-sent after a lost answer
        // finds the conversion done and gets the same answer.
        let converted: ConvertedFolder = self
            .call(Operation::ConvertFolder(ConvertFolderArgs {
                item_id,
                workspace_id: Uuid::new_v4(),
            }))
            .await
            .with_context(|| {
                format!("{folder} could not become a workspace of its own; nothing was shared")
            })?;
        Ok(converted.workspace)
    }

    /// Offers `folder`'s workspace to `addressees` with `role`.
    pub async fn propose(
        &self,
        folder: &str,
        addressees: &[String],
        role: GrantedRole,
        message: Option<String>,
    ) -> anyhow::Result<Vec<Proposal>> {
        let addressees: Vec<String> = addressees
            .iter()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect();
        if addressees.is_empty() {
            bail!("name at least one user to share with: --with alice,bob@example.org");
        }
        let workspace = self.resolve_or_convert(folder, true).await?;
        if workspace.is_default {
            bail!(
                "\"{}\" is your default workspace, which cannot be shared; create one for what \
                 you want to share (`nimbus workspace create NAME`), sync a folder with it and \
                 share that",
                workspace.name
            );
        }
        self.call(Operation::ProposeShare(ProposeShareArgs {
            workspace_id: workspace.workspace_id,
            addressees,
            role: role.into(),
            message,
        }))
        .await
        .with_context(|| format!("\"{}\" was not shared", workspace.name))
    }

    /// Accepts the offer `id` names, mounted as `mount_name` (default: the
    /// owner's name for it). An end-to-end encrypted workspace's passphrase
    /// comes from `passphrase` and is checked here against the workspace's
    /// key check before the server is asked: a wrong one changes nothing.
    /// The server accepts only with the key check, which proves it.
    pub async fn accept(
        &self,
        id: &str,
        mount_name: Option<String>,
        passphrase: &PassphraseSource,
    ) -> anyhow::Result<WorkspaceInfo> {
        if let Some(name) = &mount_name {
            validate_name(name).with_context(|| format!("{name:?} cannot name a folder"))?;
        }
        let proposal = self.find_proposal(id, Direction::Incoming).await?;
        // An offer no longer pending is the server's to refuse: no passphrase for it.
        let key_check = match proposal.encryption {
            EncryptionMode::Client if proposal.status == ProposalStatus::Pending => {
                passphrase::checked_keys(
                    proposal.workspace_id,
                    &proposal.workspace_name,
                    proposal.key_check.as_deref(),
                    passphrase,
                    "nothing was accepted",
                )
                .await?
                .key_check()
            }
            _ => None,
        };
        self.call(Operation::AcceptProposal(AcceptProposalArgs {
            proposal_id: proposal.proposal_id,
            mount_name,
            mount_parent: None,
            key_check,
        }))
        .await
        .context("the offer was not accepted")
    }

    pub async fn decline(&self, id: &str) -> anyhow::Result<Proposal> {
        let proposal = self.find_proposal(id, Direction::Incoming).await?;
        self.call(Operation::DeclineProposal {
            proposal_id: proposal.proposal_id,
        })
        .await
        .context("the offer was not declined")
    }

    pub async fn cancel(&self, id: &str) -> anyhow::Result<Proposal> {
        let proposal = self.find_proposal(id, Direction::Outgoing).await?;
        self.call(Operation::CancelProposal {
            proposal_id: proposal.proposal_id,
        })
        .await
        .context("the offer was not cancelled")
    }

    pub async fn members(&self, folder: &str) -> anyhow::Result<(WorkspaceInfo, Vec<Member>)> {
        let workspace = self.resolve(folder).await?;
        let members = self
            .call(Operation::ListMembers {
                workspace_id: workspace.workspace_id,
            })
            .await?;
        Ok((workspace, members))
    }

    /// Ends `user`'s access to `folder`'s workspace.
    pub async fn remove(&self, folder: &str, user: &str) -> anyhow::Result<Member> {
        let (workspace, member) = self.find_member(folder, user).await?;
        self.call::<()>(Operation::RemoveMember {
            workspace_id: workspace.workspace_id,
            user_id: member.user_id,
        })
        .await
        .with_context(|| format!("{} was not removed", member.username))?;
        Ok(member)
    }

    /// Ends the caller's own access to `folder`'s workspace.
    pub async fn leave(&self, folder: &str) -> anyhow::Result<WorkspaceInfo> {
        let workspace = self.resolve(folder).await?;
        if workspace.role == Role::Owner {
            bail!(
                "you own \"{}\", so you cannot leave it: to stop sharing it, run `nimbus share \
                 unshare`; to give it to a member, `nimbus share transfer`",
                workspace.name
            );
        }
        self.call::<()>(Operation::LeaveWorkspace {
            workspace_id: workspace.workspace_id,
        })
        .await
        .with_context(|| format!("you are still a member of \"{}\"", workspace.name))?;
        Ok(workspace)
    }

    /// Ends every other member's access to `folder`'s workspace.
    pub async fn unshare(&self, folder: &str) -> anyhow::Result<WorkspaceInfo> {
        let workspace = self.resolve(folder).await?;
        self.call::<()>(Operation::UnshareWorkspace {
            workspace_id: workspace.workspace_id,
        })
        .await
        .with_context(|| format!("\"{}\" is still shared", workspace.name))?;
        Ok(workspace)
    }

    /// Hands `folder`'s workspace to the member `user`.
    pub async fn transfer(&self, folder: &str, user: &str) -> anyhow::Result<Member> {
        let (workspace, member) = self.find_member(folder, user).await?;
        self.call::<Vec<Member>>(Operation::TransferOwnership {
            workspace_id: workspace.workspace_id,
            user_id: member.user_id,
        })
        .await
        .with_context(|| format!("\"{}\" still belongs to you", workspace.name))?;
        Ok(member)
    }

    pub async fn set_role(
        &self,
        folder: &str,
        user: &str,
        role: GrantedRole,
    ) -> anyhow::Result<Member> {
        let (workspace, member) = self.find_member(folder, user).await?;
        self.call(Operation::SetMemberRole {
            workspace_id: workspace.workspace_id,
            user_id: member.user_id,
            role: role.into(),
        })
        .await
        .with_context(|| format!("the role of {} was not changed", member.username))
    }

    /// The member `user` (a user name or e-mail address) of `folder`'s workspace.
    async fn find_member(
        &self,
        folder: &str,
        user: &str,
    ) -> anyhow::Result<(WorkspaceInfo, Member)> {
        let (workspace, members) = self.members(folder).await?;
        let found = members.iter().find(|m| {
            m.username == user
                || m.email
                    .as_deref()
                    .is_some_and(|email| email.eq_ignore_ascii_case(user))
        });
        match found {
            Some(member) => {
                let member = member.clone();
                Ok((workspace, member))
            }
            None => {
                let names: Vec<&str> = members.iter().map(|m| m.username.as_str()).collect();
                bail!(
                    "{user:?} is not a member of \"{}\" (members: {})",
                    workspace.name,
                    names.join(", ")
                )
            }
        }
    }

    /// The proposal whose id starts with `id` among those to or from the caller.
    async fn find_proposal(&self, id: &str, direction: Direction) -> anyhow::Result<Proposal> {
        let list = self.proposals().await?;
        let (proposals, other) = match direction {
            Direction::Incoming => (list.incoming, list.outgoing),
            Direction::Outgoing => (list.outgoing, list.incoming),
        };
        let wanted = id.trim().to_ascii_lowercase().replace('-', "");
        if wanted.is_empty() {
            bail!("name an offer by its id from `nimbus share list`");
        }
        let matches = |p: &&Proposal| p.proposal_id.simple().to_string().starts_with(&wanted);
        let mut found: Vec<&Proposal> = proposals.iter().filter(matches).collect();
        match found.len() {
            1 => Ok(found.remove(0).clone()),
            0 if other.iter().any(|p| matches(&p)) => bail!(
                "offer {id} was made {}; {}",
                match direction {
                    Direction::Incoming => "by you, not to you",
                    Direction::Outgoing => "to you, not by you",
                },
                match direction {
                    Direction::Incoming => "to withdraw it: nimbus share cancel ID",
                    Direction::Outgoing => "to turn it down: nimbus share decline ID",
                }
            ),
            0 => bail!("there is no offer {id} {direction}; `nimbus share list` shows them"),
            _ => bail!("{id} starts the ids of several offers; give more of it"),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Direction {
    Incoming,
    Outgoing,
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::Incoming => "to you",
            Direction::Outgoing => "by you",
        })
    }
}

/// What the local state says of a path.
enum SyncedFolder {
    /// The root of a synced folder, linked to this workspace.
    Root(Uuid),
    /// A folder inside the synced folder at this root.
    Inside(PathBuf),
    No,
}

async fn synced_folder(config_dir: &ConfigDir, path: &Path) -> anyhow::Result<SyncedFolder> {
    if !path.is_dir() {
        return Ok(SyncedFolder::No);
    }
    let root = std::path::absolute(path)?;
    let state_of = |dir: &Path| config_dir.folder_dir(dir).join("state.db");
    let state_file = state_of(&root);
    if !state_file.is_file() {
        return Ok(root
            .ancestors()
            .skip(1)
            .find(|dir| state_of(dir).is_file())
            .map_or(SyncedFolder::No, |dir| SyncedFolder::Inside(dir.to_owned())));
    }
    let store = SqliteStore::open(&state_file).await?;
    let id = store.get("workspace_id").await?;
    store.close().await;
    id.and_then(|id| id.parse::<Uuid>().ok())
        .map(SyncedFolder::Root)
        .with_context(|| format!("the state of {} is damaged", root.display()))
}

/// The workspace of the synced folder `root` and the item id of its folder
/// at `folder` (inside it), as this device last synced it (`None`: not on
/// the server yet, or not a folder).
async fn folder_item(
    config_dir: &ConfigDir,
    root: &Path,
    folder: &str,
) -> anyhow::Result<(Uuid, Option<Uuid>)> {
    let path = std::path::absolute(folder)?;
    let relative = path
        .strip_prefix(root)
        .ok()
        .and_then(|r| r.to_str())
        .with_context(|| format!("{folder} is not a folder name this device can sync"))?
        .replace('\\', "/");
    let store = SqliteStore::open(&config_dir.folder_dir(root).join("state.db")).await?;
    let workspace = store.get("workspace_id").await;
    let loaded = store.load().await;
    store.close().await;
    let workspace = workspace?
        .and_then(|id| id.parse::<Uuid>().ok())
        .with_context(|| format!("the state of {} is damaged", root.display()))?;
    let synced = loaded?.trees.synced;
    let item = synced
        .id_at(&relative)
        .filter(|id| synced.get(id).is_some_and(|n| n.is_folder));
    Ok((workspace, item))
}

/// Runs `nimbus share …`.
pub async fn run(config_dir: &ConfigDir, args: ShareArgs) -> anyhow::Result<()> {
    let Some(command) = args.command else {
        let connection = Connection::open(config_dir).await?;
        let (Some(folder), Some(role)) = (args.folder, args.role) else {
            bail!("name the folder or workspace to share and a role: --role editor|viewer");
        };
        let proposals = connection
            .propose(&folder, &args.with, role, args.message)
            .await?;
        for proposal in &proposals {
            println!(
                "Offered \"{}\" to {} as {} ({}); it expires {} unless accepted.",
                proposal.workspace_name,
                proposal.addressed_as,
                role_name(proposal.role),
                short_id(proposal.proposal_id),
                format_time(proposal.expires_at)
            );
        }
        return Ok(());
    };
    match command {
        // Local only: they work offline.
        ShareCommand::Adopt { folder } => {
            let folder = mounts::adopt(config_dir, &folder).await?;
            println!(
                "{} is yours now: it joins your own workspace at the next sync.",
                folder.display()
            );
        }
        ShareCommand::Delete { folder } => {
            let folder = mounts::delete(config_dir, &folder).await?;
            println!("Deleted {} from this device.", folder.display());
        }
        command => online(&Connection::open(config_dir).await?, command).await?,
    }
    Ok(())
}

/// The subcommands that ask the server.
async fn online(connection: &Connection, command: ShareCommand) -> anyhow::Result<()> {
    match command {
        ShareCommand::Adopt { .. } | ShareCommand::Delete { .. } => {}
        ShareCommand::List => {
            let list = connection.proposals().await?;
            print!("{}", format_proposals(&list));
        }
        ShareCommand::Accept {
            id,
            mount_name,
            passphrase_stdin,
        } => {
            let workspace = connection
                .accept(&id, mount_name, &PassphraseSource::asking(passphrase_stdin))
                .await?;
            println!(
                "You are now {} of \"{}\". It syncs as the folder \"{}\" of your sync folder on \
                 your devices that run `nimbus sync`.",
                match workspace.role {
                    Role::Viewer => "a viewer",
                    _ => "an editor",
                },
                workspace.name,
                workspace.name
            );
            if workspace.encryption == EncryptionMode::Client {
                println!(
                    "It is end-to-end encrypted: `nimbus sync` asks each device for its \
                     passphrase when it mounts it (on the terminal, or from standard input \
                     with --passphrase-stdin); no device stores it."
                );
            }
        }
        ShareCommand::Decline { id } => {
            let proposal = connection.decline(&id).await?;
            println!(
                "Declined \"{}\" from {}.",
                proposal.workspace_name, proposal.proposer_name
            );
        }
        ShareCommand::Cancel { id } => {
            let proposal = connection.cancel(&id).await?;
            println!(
                "Withdrew the offer of \"{}\" to {}.",
                proposal.workspace_name, proposal.addressed_as
            );
        }
        ShareCommand::Members { folder } => {
            let (workspace, members) = connection.members(&folder).await?;
            println!("Members of \"{}\":", workspace.name);
            for member in members {
                println!(
                    "  {:20} {:7} {}since {}",
                    member.username,
                    role_name(member.role),
                    member
                        .email
                        .map(|email| format!("{email}  "))
                        .unwrap_or_default(),
                    format_time(member.joined_at)
                );
            }
        }
        ShareCommand::Remove { folder, user } => {
            let member = connection.remove(&folder, &user).await?;
            println!(
                "Removed {}. Their devices stop syncing it and keep their copy as plain files.",
                member.username
            );
        }
        ShareCommand::Leave { folder } => {
            let workspace = connection.leave(&folder).await?;
            println!(
                "You left \"{}\". Your devices stop syncing it and keep their copy as plain \
                 files; `nimbus status` says how to keep or delete them.",
                workspace.name
            );
        }
        ShareCommand::Unshare { folder } => {
            let workspace = connection.unshare(&folder).await?;
            println!(
                "\"{}\" is no longer shared: its members' devices stop syncing it and keep their \
                 copy as plain files; pending offers are withdrawn.",
                workspace.name
            );
        }
        ShareCommand::Transfer { folder, user } => {
            let member = connection.transfer(&folder, &user).await?;
            println!(
                "{} owns it now, and its size counts against their quota. You stay an editor.",
                member.username
            );
        }
        ShareCommand::Role { folder, user, role } => {
            let member = connection.set_role(&folder, &user, role).await?;
            println!("{} is now {}.", member.username, role_name(member.role));
        }
    }
    Ok(())
}

/// `nimbus share list`'s report.
pub fn format_proposals(list: &ProposalList) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut section = |title: &str, proposals: &[Proposal], incoming: bool| {
        if proposals.is_empty() {
            let _ = writeln!(out, "{title}: none");
            return;
        }
        let _ = writeln!(out, "{title}:");
        for p in proposals {
            let who = if incoming {
                format!("from {}", p.proposer_name)
            } else {
                format!("to {}", p.addressed_as)
            };
            let _ = writeln!(
                out,
                "  {}  \"{}\"{} {who} as {}  {}",
                short_id(p.proposal_id),
                p.workspace_name,
                if p.encryption == EncryptionMode::Client {
                    " (end-to-end encrypted)"
                } else {
                    ""
                },
                role_name(p.role),
                match p.status {
                    ProposalStatus::Pending =>
                        format!("pending, expires {}", format_time(p.expires_at)),
                    ProposalStatus::Accepted => "accepted".into(),
                    ProposalStatus::Declined => "declined".into(),
                    ProposalStatus::Cancelled => "cancelled".into(),
                    ProposalStatus::Expired => "expired".into(),
                }
            );
            if let Some(message) = &p.message {
                let _ = writeln!(out, "      \"{message}\"");
            }
        }
    };
    section("Offered to you", &list.incoming, true);
    section("Offered by you", &list.outgoing, false);
    let pending = list
        .incoming
        .iter()
        .any(|p| p.status == ProposalStatus::Pending);
    if pending {
        out.push_str(
            "Answer with `nimbus share accept ID [--as NAME]` or `nimbus share decline ID`.\n",
        );
    }
    out
}

/// The start of an id that `share accept` and the others take.
fn short_id(id: Uuid) -> String {
    id.simple().to_string()[..8].to_owned()
}

pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Owner => "owner",
        Role::Editor => "editor",
        Role::Viewer => "viewer",
    }
}

/// A server time (milliseconds since the epoch) in RFC 3339, UTC.
pub fn format_time(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        share: ShareArgs,
    }

    #[test]
    fn an_offer_and_the_subcommands_parse() {
        let offer = Cli::try_parse_from([
            "share",
            "Photos",
            "--with",
            "alice,bob@example.org",
            "--role",
            "viewer",
        ])
        .unwrap()
        .share;
        assert!(offer.command.is_none());
        assert_eq!(offer.folder.as_deref(), Some("Photos"));
        assert_eq!(offer.with, ["alice", "bob@example.org"]);
        assert_eq!(offer.role, Some(GrantedRole::Viewer));
        let list = Cli::try_parse_from(["share", "list"]).unwrap().share;
        assert!(matches!(list.command, Some(ShareCommand::List)));
        let accept = Cli::try_parse_from(["share", "accept", "3f2a", "--as", "Family"])
            .unwrap()
            .share;
        assert!(matches!(
            accept.command,
            Some(ShareCommand::Accept { ref id, mount_name: Some(ref name), passphrase_stdin: false })
                if id == "3f2a" && name == "Family"
        ));
        let stdin = Cli::try_parse_from(["share", "accept", "3f2a", "--passphrase-stdin"])
            .unwrap()
            .share;
        assert!(matches!(
            stdin.command,
            Some(ShareCommand::Accept {
                passphrase_stdin: true,
                ..
            })
        ));
        // An offer names its users and role: nobody is granted editing by default.
        assert!(Cli::try_parse_from(["share", "Photos", "--with", "alice"]).is_err());
        assert!(
            Cli::try_parse_from(["share", "Photos", "--role", "owner", "--with", "a"]).is_err()
        );
    }
}
