//! Desktop clients: each a `nimbus sync` process on its own folder, and a
//! writer that creates, rewrites, renames and deletes files in its own
//! subfolder there, keeping the tree it expects every device to end with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::cluster::{Account, run_with_input};
use crate::ledger::{Ledger, md5_hex, random_body};
use crate::process::{Launch, Process};

/// A folder's contents: path → MD5 of a file's bytes, `None` for a folder.
pub type Tree = BTreeMap<String, Option<String>>;

pub struct Device {
    pub name: String,
    pub root: PathBuf,
    pub process: Process,
}

impl Device {
    /// Logs in through `proxy_url` and starts `nimbus sync`.
    pub async fn start(
        bin: &Path,
        dir: &Path,
        logs: &Path,
        name: &str,
        proxy_url: &str,
        account: &Account,
    ) -> anyhow::Result<Self> {
        let config = dir.join(name).join("config");
        let root = dir.join(name).join("Nimbus");
        std::fs::create_dir_all(&root)?;
        let env = vec![
            ("NIMBUS_CONFIG_DIR".to_owned(), config.display().to_string()),
            ("RUST_LOG".to_owned(), "info".to_owned()),
        ];
        let login = Launch {
            program: bin.join("nimbus"),
            args: [
                "login",
                proxy_url,
                "--user",
                account.user.as_str(),
                "--password-stdin",
                "--device",
                name,
            ]
            .map(str::to_owned)
            .to_vec(),
            env: env.clone(),
        };
        run_with_input(&login, &account.password).await?;
        let sync = Launch {
            program: bin.join("nimbus"),
            args: vec!["sync".into(), root.display().to_string()],
            env,
        };
        Ok(Self {
            name: name.to_owned(),
            process: Process::start(&format!("nimbus-{name}"), sync, logs)?,
            root,
        })
    }
}

/// Every file (MD5) and folder under `root`, except the client's `.nimbus`.
pub fn list(root: &Path) -> Tree {
    walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .filter_entry(|entry| entry.depth() != 1 || entry.file_name() != ".nimbus")
        .flatten()
        .map(|entry| {
            let path = entry
                .path()
                .strip_prefix(root)
                .expect("under the root")
                .to_string_lossy()
                .into_owned();
            let md5 = entry.file_type().is_file().then(|| {
                std::fs::read(entry.path())
                    .map(|b| md5_hex(&b))
                    .unwrap_or_default()
            });
            (path, md5)
        })
        .collect()
}

/// Changes files under `<root>/<mine>` until `stop`; returns what that
/// subtree holds at the end.
pub async fn write(
    root: PathBuf,
    mine: String,
    ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
) -> Tree {
    let mut tree = Tree::new();
    let mut folders = vec![mine.clone()];
    std::fs::create_dir_all(root.join(&mine)).expect("create the writer's folder");
    tree.insert(mine.clone(), None);
    let mut made = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let files: Vec<String> = tree
            .iter()
            .filter(|(_, md5)| md5.is_some())
            .map(|(path, _)| path.clone())
            .collect();
        let pick = |list: &[String]| list[rand::random_range(0..list.len())].clone();
        let roll = rand::random_range(0..100);
        match roll {
            _ if files.len() < 3 || roll < 35 => {
                let path = format!("{}/f{made:05}.bin", pick(&folders));
                made += 1;
                let body = random_body();
                std::fs::write(root.join(&path), &body).expect("write a file");
                tree.insert(path, Some(md5_hex(&body)));
            }
            35..65 => {
                let path = pick(&files);
                let body = random_body();
                std::fs::write(root.join(&path), &body).expect("rewrite a file");
                tree.insert(path, Some(md5_hex(&body)));
            }
            65..80 => {
                let from = pick(&files);
                let to = format!("{}/r{made:05}.bin", pick(&folders));
                made += 1;
                std::fs::rename(root.join(&from), root.join(&to)).expect("rename a file");
                let md5 = tree.remove(&from).expect("a known file");
                tree.insert(to, md5);
            }
            80..92 => {
                let path = pick(&files);
                std::fs::remove_file(root.join(&path)).expect("delete a file");
                tree.remove(&path);
            }
            _ if folders.len() < 6 => {
                let path = format!("{}/s{made:05}", pick(&folders));
                made += 1;
                std::fs::create_dir(root.join(&path)).expect("create a folder");
                tree.insert(path.clone(), None);
                folders.push(path);
            }
            _ => continue,
        }
        ledger.desktop_operations.add();
        tokio::time::sleep(Duration::from_millis(rand::random_range(150..600))).await;
    }
    tree
}

/// How `tree` differs from what must be there (`required`) and what may
/// be (`optional`): a few lines, empty if it holds.
pub fn differences(tree: &Tree, required: &Tree, optional: &Tree) -> Vec<String> {
    let mut lines = Vec::new();
    for (path, md5) in required {
        match tree.get(path) {
            None => lines.push(format!("{path} is missing")),
            Some(found) if found != md5 => {
                lines.push(format!("{path} has {found:?}, expected {md5:?}"));
            }
            Some(_) => {}
        }
    }
    for (path, md5) in tree {
        if !required.contains_key(path) && optional.get(path) != Some(md5) {
            lines.push(format!("{path} ({md5:?}) should not be there"));
        }
    }
    lines
}
