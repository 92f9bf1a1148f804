//! The client's configuration directory:
//!
//! ```text
//! <config dir>/config.json        proxy URL, broker URL and prefix, user, device
//! <config dir>/token              the device token (mode 0600)
//! <config dir>/folders/<key>/     one per linked folder:
//!     state.db                    trees, cursor, pending commit, status (SQLite)
//! ```
//!
//! The default directory comes from `directories` (e.g.
//! `~/.config/nimbus` on Linux); `--config-dir` or `NIMBUS_CONFIG_DIR`
//! override it, which also lets several devices run on one machine.

use std::io::Write;
use std::path::{Path, PathBuf};

use nimbus_protocol::client::{ClientError, ClientOptions};
use nimbus_protocol::rpc::DeviceToken;
use nimbus_protocol::{RpcClient, Topology};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Error;

/// What `nimbus login` learnt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// The proxy, e.g. `http://127.0.0.1:8080`.
    pub proxy_url: String,
    /// The broker of the metadata RPC (`X-Nimbus-Rpc-Url`).
    pub amqp_url: String,
    /// The queue prefix (`X-Nimbus-Rpc-Prefix`).
    pub queue_prefix: String,
    pub user: String,
    pub user_id: Uuid,
    pub device_name: String,
    pub device_id: Uuid,
}

impl Config {
    /// A client of the metadata RPC this device logged in with.
    pub async fn connect_rpc(&self) -> Result<RpcClient, ClientError> {
        RpcClient::connect_device(
            &self.amqp_url,
            Topology::new(self.queue_prefix.clone()),
            ClientOptions::default(),
        )
        .await
    }
}

/// The default configuration directory of this OS and user.
pub fn default_dir() -> Result<PathBuf, Error> {
    directories::ProjectDirs::from("org", "Nimbus", "nimbus")
        .map(|dirs| dirs.config_dir().to_owned())
        .ok_or_else(|| {
            Error::config(
                "no home directory to keep the configuration in; pass --config-dir or set NIMBUS_CONFIG_DIR",
            )
        })
}

fn io_error(path: &Path, error: std::io::Error) -> Error {
    Error::config(format!("{}: {error}", path.display()))
}

/// Writes `data` to `path` through a temporary file and a rename, so that
/// a crash leaves the old or the new file, never half of one.
fn write_atomic(path: &Path, data: &[u8], private: bool) -> Result<(), Error> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let temp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&temp).map_err(|e| io_error(&temp, e))?;
    file.write_all(data).map_err(|e| io_error(&temp, e))?;
    file.sync_all().map_err(|e| io_error(&temp, e))?;
    drop(file);
    std::fs::rename(&temp, path).map_err(|e| io_error(path, e))
}

/// The configuration directory in use.
#[derive(Debug, Clone)]
pub struct ConfigDir {
    pub path: PathBuf,
}

impl ConfigDir {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    fn config_file(&self) -> PathBuf {
        self.path.join("config.json")
    }

    fn token_file(&self) -> PathBuf {
        self.path.join("token")
    }

    pub fn save(&self, config: &Config, token: &DeviceToken) -> Result<(), Error> {
        write_atomic(&self.token_file(), token.0.as_bytes(), true)?;
        let json = serde_json::to_vec_pretty(config)
            .map_err(|e| Error::config(format!("cannot encode the configuration: {e}")))?;
        write_atomic(&self.config_file(), &json, false)
    }

    /// The configuration and token, or an error that says to log in.
    pub fn load(&self) -> Result<(Config, DeviceToken), Error> {
        let not_logged_in = || {
            Error::config(format!(
                "not logged in (no configuration in {}); run `nimbus login <proxy-url> --user <name>` first",
                self.path.display()
            ))
        };
        let json = std::fs::read(self.config_file()).map_err(|_| not_logged_in())?;
        let config: Config = serde_json::from_slice(&json).map_err(|e| {
            Error::config(format!(
                "{} is damaged ({e}); run `nimbus login` again",
                self.config_file().display()
            ))
        })?;
        let token = std::fs::read_to_string(self.token_file()).map_err(|_| not_logged_in())?;
        Ok((config, DeviceToken(token.trim().to_owned())))
    }

    /// Forgets the token (the configuration stays, for `nimbus login` defaults).
    pub fn delete_token(&self) -> Result<bool, Error> {
        match std::fs::remove_file(self.token_file()) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error(&self.token_file(), e)),
        }
    }

    /// The state directory of the folder at `root` (an absolute path).
    pub fn folder_dir(&self, root: &Path) -> PathBuf {
        let key = path_key(&root.to_string_lossy());
        self.path.join("folders").join(key)
    }

    /// State directories of every linked folder.
    pub fn folder_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(self.path.join("folders"))
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.join("state.db").is_file())
                    .collect()
            })
            .unwrap_or_default();
        dirs.sort();
        dirs
    }
}

/// A short stable key for a path: FNV-1a 64, hex (not a security boundary,
/// just a directory name; the state database records the real path).
fn path_key(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_and_the_token_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let config_dir = ConfigDir::new(dir.path().join("nested"));
        assert!(
            config_dir
                .load()
                .unwrap_err()
                .to_string()
                .contains("nimbus login")
        );
        let config = Config {
            proxy_url: "http://127.0.0.1:8080".into(),
            amqp_url: "amqp://127.0.0.1".into(),
            queue_prefix: "nimbus".into(),
            user: "alice".into(),
            user_id: Uuid::from_u128(1),
            device_name: "laptop".into(),
            device_id: Uuid::from_u128(2),
        };
        config_dir
            .save(&config, &DeviceToken("secret".into()))
            .unwrap();
        let (loaded, token) = config_dir.load().unwrap();
        assert_eq!(loaded, config);
        assert_eq!(token.0, "secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(config_dir.token_file())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(config_dir.delete_token().unwrap());
        assert!(config_dir.load().is_err());
        assert_ne!(
            config_dir.folder_dir(Path::new("/a")),
            config_dir.folder_dir(Path::new("/b"))
        );
    }
}
