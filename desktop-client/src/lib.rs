//! The Nimbus desktop client: keeps a folder in sync with a workspace.
//!
//! * [`engine`]: three trees, the pure planner, and the engine that executes
//!   plans (no I/O of its own: everything goes through traits);
//! * [`fs`]: the file system trait, the real sync folder and an in-memory one;
//! * [`remote`]: the server trait (metadata RPC + object store) and the clock;
//! * [`transfer`]: the real remote (AMQP RPC + chunks over the Swift API);
//! * [`state`]: SQLite persistence of trees, cursor and pending commits;
//! * [`config`]: the configuration directory (login, token, linked folders);
//! * [`passphrase`]: passphrases and keys of end-to-end encrypted workspaces;
//! * [`filter`]: `.nimbusignore` and editor temporaries;
//! * [`daemon`]: `nimbus sync`, the watch/notify/retry loop;
//! * [`mounts`]: workspaces shared with the user, inside their sync folder;
//! * [`share`]: `nimbus share`: offers, answers and members;
//! * [`link`]: `nimbus link`: public links to synced files and folders;
//! * [`cli`]: the `nimbus` commands;
//! * [`error`]: user-facing errors.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod engine;
pub mod error;
pub mod filter;
pub mod fs;
pub mod link;
pub mod mounts;
pub mod passphrase;
pub mod remote;
pub mod share;
pub mod state;
pub mod transfer;

pub use error::Error;
