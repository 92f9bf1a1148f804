//! `nimbus link`: public links to synced files and folders.
//!
//! `nimbus link create PATH` publishes a file or folder of a synced folder
//! (the user's own or a share they are a member of) at `/s/{token}` on the
//! proxy; the URL is printed once and the server keeps only a hash of it.
//! The path is resolved on the server, by name from the top of the
//! workspace its synced folder is linked to, so it must have been synced.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use nimbus_protocol::rpc::{
    CreateLinkArgs, CreatedLink, ItemState, LinkInfo, LinkStatus, Operation, Password,
};
use uuid::Uuid;

use crate::config::ConfigDir;
use crate::passphrase::read_secret;
use crate::share::{Connection, format_time};
use crate::state::SqliteStore;

#[derive(Debug, Args)]
pub struct LinkArgs {
    #[command(subcommand)]
    pub command: LinkCommand,
}

#[derive(Debug, Subcommand)]
pub enum LinkCommand {
    /// Publishes a synced file or folder at a public link and prints its URL
    /// (shown this once only).
    Create {
        /// A file or folder inside a synced folder.
        path: PathBuf,
        /// How long the link works, e.g. `30m`, `12h`, `7d`.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expires: Option<Duration>,
        /// Ask visitors for a password, read from the first line of
        /// standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Downloads after which the link stops working.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        max_downloads: Option<u64>,
    },
    /// Your links, with whether each still works.
    List,
    /// Ends a link at once.
    Revoke {
        /// The link's id (or its start) from `nimbus link list`.
        id: String,
    },
}

/// `30s`, `15m`, `12h`, `7d`, `2w`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} needs a unit: s, m, h, d or w (e.g. 7d)"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a number"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?}: use s, m, h, d or w"
            ));
        }
    };
    match number.checked_mul(seconds) {
        Some(0) => Err("a link that expires at once would never work".into()),
        Some(secs) => Ok(Duration::from_secs(secs)),
        None => Err(format!("{text:?} is too long")),
    }
}

/// The synced folder holding `path` (itself or its nearest ancestor with a
/// state), its workspace, and the names from that folder down to `path`.
async fn locate(config_dir: &ConfigDir, path: &Path) -> anyhow::Result<(Uuid, Vec<String>)> {
    let absolute = std::path::absolute(path)?;
    let state_of = |dir: &Path| config_dir.folder_dir(dir).join("state.db");
    let root = absolute
        .ancestors()
        .find(|dir| state_of(dir).is_file())
        .with_context(|| {
            format!(
                "{} is not in a synced folder; link files of a folder you sync with `nimbus sync`",
                path.display()
            )
        })?;
    let store = SqliteStore::open(&state_of(root)).await?;
    let workspace = store.get("workspace_id").await?;
    store.close().await;
    let workspace = workspace
        .and_then(|id| id.parse().ok())
        .with_context(|| format!("the state of {} is damaged", root.display()))?;
    let names = absolute
        .strip_prefix(root)?
        .components()
        .map(|component| match component {
            Component::Normal(name) => name
                .to_str()
                .map(str::to_owned)
                .with_context(|| format!("{} is not valid UTF-8", path.display())),
            other => bail!("{} has a {other:?} part; give a plain path", path.display()),
        })
        .collect::<anyhow::Result<_>>()?;
    Ok((workspace, names))
}

/// The id of the item `names` leads to from the top of the workspace
/// (`None`: the top itself).
async fn resolve(
    connection: &Connection,
    workspace_id: Uuid,
    names: &[String],
) -> anyhow::Result<Option<Uuid>> {
    let mut folder = None;
    for (depth, name) in names.iter().enumerate() {
        let children: Vec<ItemState> = connection
            .call(Operation::ListFolder {
                workspace_id,
                folder_id: folder,
            })
            .await?;
        let found = children
            .iter()
            .find(|item| &item.name == name)
            .with_context(|| {
                format!(
                    "{} is not on the server (yet): wait for `nimbus sync` to upload it",
                    names[..=depth].join("/")
                )
            })?;
        folder = Some(found.id);
    }
    Ok(folder)
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The public URL of a link.
pub fn link_url(proxy_url: &str, created: &CreatedLink) -> String {
    format!("{}/s/{}", proxy_url.trim_end_matches('/'), created.token.0)
}

fn status_text(link: &LinkInfo) -> String {
    match link.status {
        LinkStatus::Active => match link.expires_at {
            Some(at) => format!("active until {}", format_time(at)),
            None => "active".into(),
        },
        LinkStatus::Revoked => "revoked".into(),
        LinkStatus::Expired => "expired".into(),
        LinkStatus::UsedUp => "used up".into(),
        LinkStatus::TargetDeleted => "dead: its file or folder was deleted".into(),
        LinkStatus::CreatorLostAccess => "dead: you are no longer a member".into(),
    }
}

/// `nimbus link list`'s report.
pub fn format_links(links: &[LinkInfo]) -> String {
    use std::fmt::Write as _;
    if links.is_empty() {
        return "No links.\n".into();
    }
    let mut out = String::new();
    for link in links {
        let downloads = match link.max_downloads {
            Some(max) => format!("{}/{max} downloads", link.downloads),
            None => format!("{} downloads", link.downloads),
        };
        let _ = writeln!(
            out,
            "{}  {}{}  {downloads}{}  {}",
            short_id(link.link_id),
            link.name,
            if link.is_folder { "/" } else { "" },
            if link.has_password { ", password" } else { "" },
            status_text(link)
        );
    }
    out
}

fn short_id(id: Uuid) -> String {
    id.simple().to_string()[..8].to_owned()
}

/// Runs `nimbus link …`.
pub async fn run(config_dir: &ConfigDir, args: LinkArgs) -> anyhow::Result<()> {
    let connection = Connection::open(config_dir).await?;
    match args.command {
        LinkCommand::Create {
            path,
            expires,
            password_stdin,
            max_downloads,
        } => {
            let (workspace_id, names) = locate(config_dir, &path).await?;
            let item_id = resolve(&connection, workspace_id, &names).await?;
            let password = if password_stdin {
                let secret = read_secret("", true, "--password-stdin")?;
                Some(Password(secret.to_string()))
            } else {
                None
            };
            let expires_at = expires
                .map(|after| now_millis() + i64::try_from(after.as_millis()).unwrap_or(i64::MAX));
            let created: CreatedLink = connection
                .call(Operation::CreateLink(CreateLinkArgs {
                    workspace_id,
                    item_id,
                    expires_at,
                    password,
                    max_downloads,
                }))
                .await
                .with_context(|| format!("no link was made to {}", path.display()))?;
            let (config, _) = config_dir.load()?;
            println!("{}", link_url(&config.proxy_url, &created));
            eprintln!(
                "Link {} to {}: {}. The URL is shown only now.",
                short_id(created.link.link_id),
                created.link.name,
                status_text(&created.link)
            );
        }
        LinkCommand::List => {
            let links: Vec<LinkInfo> = connection.call(Operation::ListLinks).await?;
            print!("{}", format_links(&links));
        }
        LinkCommand::Revoke { id } => {
            let links: Vec<LinkInfo> = connection.call(Operation::ListLinks).await?;
            let wanted = id.trim().to_ascii_lowercase().replace('-', "");
            let matching: Vec<&LinkInfo> = links
                .iter()
                .filter(|l| {
                    !wanted.is_empty() && l.link_id.simple().to_string().starts_with(&wanted)
                })
                .collect();
            let link = match matching.as_slice() {
                [one] => *one,
                [] => bail!("none of your links has the id {id:?}; see `nimbus link list`"),
                _ => bail!("{id:?} starts the ids of several links; give more of it"),
            };
            let revoked: LinkInfo = connection
                .call(Operation::RevokeLink {
                    link_id: link.link_id,
                })
                .await?;
            println!(
                "Revoked the link {} to {}.",
                short_id(revoked.link_id),
                revoked.name
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        link: LinkArgs,
    }

    #[test]
    fn the_commands_parse() {
        let create = Cli::try_parse_from([
            "link",
            "create",
            "Photos/beach.jpg",
            "--expires",
            "7d",
            "--password-stdin",
            "--max-downloads",
            "3",
        ])
        .unwrap()
        .link;
        assert!(matches!(
            create.command,
            LinkCommand::Create { ref path, expires: Some(expires), password_stdin: true, max_downloads: Some(3) }
                if path == Path::new("Photos/beach.jpg") && expires == Duration::from_secs(7 * 86_400)
        ));
        let plain = Cli::try_parse_from(["link", "create", "a.txt"])
            .unwrap()
            .link;
        assert!(matches!(
            plain.command,
            LinkCommand::Create {
                expires: None,
                password_stdin: false,
                max_downloads: None,
                ..
            }
        ));
        assert!(matches!(
            Cli::try_parse_from(["link", "list"]).unwrap().link.command,
            LinkCommand::List
        ));
        assert!(matches!(
            Cli::try_parse_from(["link", "revoke", "3f2a"]).unwrap().link.command,
            LinkCommand::Revoke { ref id } if id == "3f2a"
        ));
        assert!(Cli::try_parse_from(["link", "create", "a", "--max-downloads", "0"]).is_err());
        assert!(Cli::try_parse_from(["link", "create", "a", "--expires", "soon"]).is_err());
        assert!(Cli::try_parse_from(["link", "revoke"]).is_err());
    }

    #[test]
    fn durations_take_a_unit_and_refuse_nonsense() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        for bad in ["7", "d", "0h", "7y", "-1d", "99999999999999999999w"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_list_says_what_each_link_is_and_whether_it_works() {
        let link = LinkInfo {
            link_id: Uuid::parse_str("0123456789abcdef0123456789abcdef").unwrap(),
            workspace_id: Uuid::nil(),
            item_id: None,
            name: "Photos".into(),
            is_folder: true,
            has_password: true,
            created_at: 0,
            expires_at: None,
            max_downloads: Some(5),
            downloads: 2,
            status: LinkStatus::Active,
        };
        let used = LinkInfo {
            is_folder: false,
            has_password: false,
            name: "a.txt".into(),
            max_downloads: None,
            status: LinkStatus::UsedUp,
            ..link.clone()
        };
        assert_eq!(
            format_links(&[link, used]),
            "01234567  Photos/  2/5 downloads, password  active\n\
             01234567  a.txt  2 downloads  used up\n"
        );
        assert_eq!(format_links(&[]), "No links.\n");
    }
}
