//! Passphrases of end-to-end encrypted workspaces, and the keys they unlock.
//!
//! A workspace in mode `client` is encrypted with keys derived from its
//! passphrase (Argon2id, see [`nimbus_chunks::WorkspaceKeys`]); neither the
//! passphrase nor the keys ever leave this process: they are not logged
//! (`Debug` is redacted), not written to disk, and wiped from memory when
//! dropped. The workspace records only a key check, which lets a device
//! refuse a mistyped passphrase before it syncs anything.
//!
//! Typed passphrases are normalised to Unicode NFC, so the same passphrase
//! typed where input methods compose accents differently (macOS decomposes
//! them) gives the same keys on every device.

use std::fmt;
use std::io::BufRead;

use nimbus_chunks::WorkspaceKeys;
use nimbus_protocol::rpc::{EncryptionMode, WorkspaceInfo};
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::Error;

/// The option of `nimbus` commands that reads the passphrase from stdin.
const PASSPHRASE_STDIN_FLAG: &str = "--passphrase-stdin";

/// A workspace passphrase: NFC-normalised, never empty, wiped on drop.
#[derive(Clone)]
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Normalises `text` (NFC); refuses an empty passphrase.
    pub fn new(text: &str) -> Result<Self, Error> {
        if text.is_empty() {
            return Err(Error::config(
                "the passphrase is empty; an encrypted workspace needs one",
            ));
        }
        Ok(Self(Zeroizing::new(text.nfc().collect())))
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

/// Where the passphrase of an encrypted workspace comes from.
#[derive(Debug, Clone)]
pub enum PassphraseSource {
    /// Nowhere: opening an encrypted workspace fails and says how to give one.
    Unavailable,
    /// Asked on the terminal, without echo.
    Terminal,
    /// The first line of standard input (for scripts).
    Stdin,
    /// Already known (programs embedding the client, tests).
    Given(Passphrase),
}

impl PassphraseSource {
    /// Where a command asks: standard input when `from_stdin` (its
    /// `--passphrase-stdin` option), else the terminal.
    pub fn asking(from_stdin: bool) -> Self {
        if from_stdin {
            PassphraseSource::Stdin
        } else {
            PassphraseSource::Terminal
        }
    }

    /// The passphrase of an existing workspace: asked once.
    pub fn existing(&self, workspace_name: &str) -> Result<Passphrase, Error> {
        let prompt = format!("Passphrase of workspace \"{workspace_name}\": ");
        Passphrase::new(&self.read(&prompt)?)
    }

    /// The passphrase of a new workspace: asked twice on the terminal, so a
    /// typing mistake cannot lock the files away.
    pub fn new_workspace(&self, workspace_name: &str) -> Result<Passphrase, Error> {
        let prompt = format!("New passphrase of workspace \"{workspace_name}\": ");
        let first = self.read(&prompt)?;
        if matches!(self, PassphraseSource::Terminal) {
            let again = self.read("Type it again: ")?;
            if *again != *first {
                return Err(Error::config(
                    "the two passphrases differ; nothing was created. Try again",
                ));
            }
        }
        Passphrase::new(&first)
    }

    fn read(&self, prompt: &str) -> Result<Zeroizing<String>, Error> {
        match self {
            PassphraseSource::Unavailable => Err(Error::config(
                "this workspace is end-to-end encrypted and no passphrase was given; run \
                 `nimbus sync` on a terminal to type it, or pass it with --passphrase-stdin",
            )),
            PassphraseSource::Terminal => read_secret(prompt, false, PASSPHRASE_STDIN_FLAG),
            PassphraseSource::Stdin => read_secret(prompt, true, PASSPHRASE_STDIN_FLAG),
            PassphraseSource::Given(passphrase) => Ok(passphrase.0.clone()),
        }
    }
}

/// Reads a secret: from the terminal without echo after showing `prompt`,
/// or as the first line of standard input. `stdin_flag` is the option that
/// asks for the latter, named when there is no terminal to ask on.
pub fn read_secret(
    prompt: &str,
    from_stdin: bool,
    stdin_flag: &str,
) -> Result<Zeroizing<String>, Error> {
    let secret = if from_stdin {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Error::config(format!("cannot read standard input: {e}")))?;
        Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned())
    } else {
        Zeroizing::new(rpassword::prompt_password(prompt).map_err(|e| {
            Error::config(format!(
                "cannot ask on the terminal ({e}); pass it on standard input with {stdin_flag}"
            ))
        })?)
    };
    Ok(secret)
}

/// The keys of a new encrypted workspace with id `workspace_id`. Argon2id
/// takes 64 MiB and about a second, so it runs on a blocking thread.
pub async fn derive_keys(
    workspace_id: Uuid,
    passphrase: &Passphrase,
) -> Result<WorkspaceKeys, Error> {
    let passphrase = passphrase.clone();
    tokio::task::spawn_blocking(move || WorkspaceKeys::from_passphrase(workspace_id, &passphrase.0))
        .await
        .map_err(|e| Error::config(format!("the key derivation stopped: {e}")))?
        .map_err(|e| Error::config(format!("cannot derive the workspace keys: {e}")))
}

/// The keys to sync `workspace` with. An end-to-end encrypted workspace
/// asks `source` for its passphrase and refuses one whose keys do not match
/// the workspace's key check; the others need no secret.
pub async fn unlock(
    workspace: &WorkspaceInfo,
    source: &PassphraseSource,
) -> Result<WorkspaceKeys, Error> {
    match workspace.encryption {
        // No component holds a server key yet: such chunks are stored plain.
        EncryptionMode::None | EncryptionMode::Server => {
            Ok(WorkspaceKeys::plain(workspace.workspace_id))
        }
        EncryptionMode::Client => {
            checked_keys(
                workspace.workspace_id,
                &workspace.name,
                workspace.key_check.as_deref(),
                source,
                "nothing was synced",
            )
            .await
        }
    }
}

/// The keys of the end-to-end encrypted workspace `workspace_id` (named
/// `name`) from the passphrase `source` gives, refused unless they match
/// `key_check` (the workspace's, as the server lists it). `unchanged` says
/// in the error what the refusal left as it was.
pub async fn checked_keys(
    workspace_id: Uuid,
    name: &str,
    key_check: Option<&str>,
    source: &PassphraseSource,
    unchanged: &str,
) -> Result<WorkspaceKeys, Error> {
    let expected = key_check.ok_or_else(|| {
        Error::config(format!(
            "workspace \"{name}\" is end-to-end encrypted but the server lists no key check \
             for it, so a wrong passphrase could not be detected; {unchanged}"
        ))
    })?;
    let passphrase = source.existing(name)?;
    let keys = derive_keys(workspace_id, &passphrase).await?;
    if keys.key_check().as_deref() != Some(expected) {
        return Err(Error::config(format!(
            "the passphrase does not match workspace \"{name}\"; {unchanged}. \
             Check it and try again"
        )));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use nimbus_protocol::rpc::Role;

    use super::*;

    fn encrypted_workspace(key_check: Option<String>) -> WorkspaceInfo {
        WorkspaceInfo {
            workspace_id: Uuid::from_u128(5),
            name: "Secrets".into(),
            owner_id: Uuid::from_u128(1),
            role: Role::Owner,
            encryption: EncryptionMode::Client,
            revision: 0,
            container: Uuid::from_u128(5).to_string(),
            storage_account: "AUTH_alice".into(),
            mount_parent: None,
            is_default: false,
            key_check,
            converted_from: None,
        }
    }

    #[test]
    fn passphrases_are_normalised_and_never_shown() {
        // "é" precomposed and as "e" + combining acute accent.
        let composed = Passphrase::new("caf\u{e9}").unwrap();
        let decomposed = Passphrase::new("cafe\u{301}").unwrap();
        assert_eq!(*composed.0, *decomposed.0);
        assert_eq!(format!("{composed:?}"), "Passphrase(<redacted>)");
        assert!(Passphrase::new("").is_err());
    }

    #[tokio::test]
    async fn only_the_right_passphrase_unlocks_an_encrypted_workspace() {
        let right = Passphrase::new("caf\u{e9} au lait").unwrap();
        let keys = derive_keys(Uuid::from_u128(5), &right).await.unwrap();
        let workspace = encrypted_workspace(keys.key_check());

        // Typed decomposed on another device: the same keys.
        let typed = PassphraseSource::Given(Passphrase::new("cafe\u{301} au lait").unwrap());
        let unlocked = unlock(&workspace, &typed).await.unwrap();
        assert!(unlocked.is_encrypted());
        assert_eq!(unlocked.key_check(), keys.key_check());

        let wrong = PassphraseSource::Given(Passphrase::new("cafe au lait").unwrap());
        let error = unlock(&workspace, &wrong).await.unwrap_err().to_string();
        assert!(
            error.contains("does not match workspace \"Secrets\"") && error.contains("nothing"),
            "{error}"
        );
        let missing = unlock(&workspace, &PassphraseSource::Unavailable)
            .await
            .unwrap_err()
            .to_string();
        assert!(missing.contains("--passphrase-stdin"), "{missing}");
        let unchecked = unlock(&encrypted_workspace(None), &typed)
            .await
            .unwrap_err();
        assert!(
            unchecked.to_string().contains("no key check"),
            "{unchecked}"
        );
    }

    #[tokio::test]
    async fn plain_workspaces_need_no_passphrase() {
        let mut workspace = encrypted_workspace(None);
        workspace.encryption = EncryptionMode::None;
        let keys = unlock(&workspace, &PassphraseSource::Unavailable)
            .await
            .unwrap();
        assert!(!keys.is_encrypted());
    }
}
