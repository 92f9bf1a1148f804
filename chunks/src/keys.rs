//! The key hierarchy of a workspace.
//!
//! ```text
//!  mode none / server                       mode client (end to end)
//!  ──────────────────                       ────────────────────────
//!  workspace id (16 bytes)                  passphrase, workspace id
//!        │ BLAKE3 derive_key                      │ Argon2id v19, m = 64 MiB, t = 3, p = 4
//!        │ (PLAIN_MASTER context)                 │ salt = "nimbus-chunks/v1 passphrase salt:" ‖ id
//!        ▼                                        ▼
//!   master (32 bytes, public)                master (32 bytes, secret, never stored)
//!        └───────────────┬────────────────────────┘
//!                        │ BLAKE3 derive_key, one context each
//!        ┌───────────────┼────────────────┬──────────────────┬─────────────────┐
//!        ▼               ▼                ▼                  ▼                 ▼
//!   chunk-id key    content-hash key   gear seed (u64)   encryption key    key check
//!   (chunk ids)     (whole files)      (FastCDC)         (client only)     (client only)
//! ```
//!
//! Every device of a workspace derives the same keys, so their chunks
//! deduplicate; another workspace derives other keys, so neither chunk
//! boundaries nor ids can be compared across workspaces (a server holding a
//! known file cannot test whether a workspace contains it, except in modes
//! `none`/`server`, where the server knows the workspace id and so the keys:
//! those modes protect nothing from the server by design).
//!
//! All of this is part of the stored format: the contexts, the salt and the
//! Argon2 parameters can never change without changing every chunk id.
//! Changing the passphrase of a `client` workspace therefore means
//! re-uploading it (a key-wrapping layer would be a new format version).

use std::fmt;
use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
use uuid::Uuid;
use zeroize::{Zeroize, Zeroizing};

use crate::ChunkError;

/// BLAKE3 `derive_key` contexts. Globally unique, hard-coded, never changed.
mod context {
    pub const PLAIN_MASTER: &str = "Nimbus 2026-11-01 chunks v1: plain workspace master key";
    pub const CHUNK_ID: &str = "Nimbus 2026-11-01 chunks v1: chunk id key";
    pub const CONTENT_HASH: &str = "Nimbus 2026-11-01 chunks v1: content hash key";
    pub const GEAR_SEED: &str = "Nimbus 2026-11-01 chunks v1: FastCDC gear seed";
    pub const ENCRYPTION: &str = "Nimbus 2026-11-01 chunks v1: XChaCha20-Poly1305 chunk key";
    pub const KEY_CHECK: &str = "Nimbus 2026-11-01 chunks v1: passphrase check";
}

/// Prefix of the Argon2id salt; the 16 bytes of the workspace id follow.
const SALT_PREFIX: &[u8] = b"nimbus-chunks/v1 passphrase salt:";

/// Argon2id memory cost in KiB (64 MiB), RFC 9106 §4 second recommendation.
pub const ARGON2_M_COST_KIB: u32 = 64 * 1024;
/// Argon2id passes.
pub const ARGON2_T_COST: u32 = 3;
/// Argon2id lanes.
pub const ARGON2_P_COST: u32 = 4;

/// Keys of one workspace. Cheap to clone (one `Arc`), `Send + Sync`.
///
/// Build them with [`WorkspaceKeys::plain`] for workspaces in mode `none` or
/// `server`, and with [`WorkspaceKeys::from_passphrase`] for mode `client`.
/// Secret material is wiped from memory when the last clone is dropped, and
/// `Debug` prints nothing secret.
#[derive(Clone)]
pub struct WorkspaceKeys {
    inner: Arc<Inner>,
}

struct Inner {
    chunk_id_key: [u8; 32],
    content_hash_key: [u8; 32],
    gear_seed: u64,
    /// Present iff the workspace is end-to-end encrypted. Zeroized on drop by
    /// the crate (`zeroize` feature).
    cipher: Option<XChaCha20Poly1305>,
    key_check: Option<[u8; 16]>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.chunk_id_key.zeroize();
        self.content_hash_key.zeroize();
        self.gear_seed.zeroize();
        if let Some(check) = self.key_check.as_mut() {
            check.zeroize();
        }
    }
}

impl WorkspaceKeys {
    /// Keys of a workspace in mode `none` or `server`: derived from the
    /// workspace id alone (BLAKE3 `derive_key` with fixed contexts), so every
    /// device and the proxy agree without sharing a secret. Chunks are not
    /// encrypted. Cheap.
    pub fn plain(workspace_id: Uuid) -> Self {
        let master = Zeroizing::new(blake3::derive_key(
            context::PLAIN_MASTER,
            workspace_id.as_bytes(),
        ));
        Self::from_master(&master, false)
    }

    /// Keys of an end-to-end encrypted workspace (mode `client`).
    ///
    /// The master key is Argon2id (v19, 64 MiB, 3 passes, 4 lanes, 32 bytes)
    /// of the passphrase's UTF-8 bytes, salted with a context string and the
    /// workspace id; the chunk-id key, content-hash key, gear seed and
    /// encryption key are derived from it separately. Nothing here is ever
    /// stored or sent. The passphrase is used exactly as given: callers that
    /// accept typed input should normalise it (Unicode NFC) the same way on
    /// every device.
    ///
    /// CPU and memory heavy (64 MiB, about half a second): call it from a
    /// blocking thread and keep the result for the session.
    ///
    /// # Errors
    ///
    /// [`ChunkError::EmptyPassphrase`] for `""`, [`ChunkError::KeyDerivation`]
    /// if Argon2 cannot run (for instance out of memory).
    pub fn from_passphrase(workspace_id: Uuid, passphrase: &str) -> Result<Self, ChunkError> {
        if passphrase.is_empty() {
            return Err(ChunkError::EmptyPassphrase);
        }
        let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, Some(32))
            .map_err(|e| ChunkError::KeyDerivation(e.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut salt = Vec::with_capacity(SALT_PREFIX.len() + 16);
        salt.extend_from_slice(SALT_PREFIX);
        salt.extend_from_slice(workspace_id.as_bytes());
        let mut master = Zeroizing::new([0u8; 32]);
        argon2
            .hash_password_into(passphrase.as_bytes(), &salt, master.as_mut())
            .map_err(|e| ChunkError::KeyDerivation(e.to_string()))?;
        Ok(Self::from_master(&master, true))
    }

    fn from_master(master: &[u8; 32], encrypted: bool) -> Self {
        let chunk_id_key = blake3::derive_key(context::CHUNK_ID, master);
        let content_hash_key = blake3::derive_key(context::CONTENT_HASH, master);
        let mut seed = Zeroizing::new(blake3::derive_key(context::GEAR_SEED, master));
        let mut seed_bytes = [0u8; 8];
        seed_bytes.copy_from_slice(&seed[..8]);
        let gear_seed = u64::from_le_bytes(seed_bytes);
        seed_bytes.zeroize();
        seed.zeroize();
        let (cipher, key_check) = if encrypted {
            let key = Zeroizing::new(blake3::derive_key(context::ENCRYPTION, master));
            let cipher = XChaCha20Poly1305::new((&*key).into());
            let check = Zeroizing::new(blake3::derive_key(context::KEY_CHECK, master));
            let mut short = [0u8; 16];
            short.copy_from_slice(&check[..16]);
            (Some(cipher), Some(short))
        } else {
            (None, None)
        };
        Self {
            inner: Arc::new(Inner {
                chunk_id_key,
                content_hash_key,
                gear_seed,
                cipher,
                key_check,
            }),
        }
    }

    /// True for end-to-end encrypted workspaces: chunks are sealed with
    /// XChaCha20-Poly1305 and opening requires these keys.
    pub fn is_encrypted(&self) -> bool {
        self.inner.cipher.is_some()
    }

    /// For encrypted workspaces, 32 hex digits derived from the master key
    /// that the workspace may store in its metadata, so a device can tell a
    /// mistyped passphrase from damaged chunks before downloading anything.
    /// It reveals nothing the stored ciphertexts do not (testing a guessed
    /// passphrase against it costs a full Argon2id run, as against a chunk).
    /// `None` for plain workspaces.
    pub fn key_check(&self) -> Option<String> {
        self.inner.key_check.as_ref().map(|check| {
            let mut out = String::with_capacity(32);
            for b in check {
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0xf)]));
            }
            out
        })
    }

    pub(crate) fn chunk_id_key(&self) -> &[u8; 32] {
        &self.inner.chunk_id_key
    }

    pub(crate) fn content_hash_key(&self) -> &[u8; 32] {
        &self.inner.content_hash_key
    }

    pub(crate) fn gear_seed(&self) -> u64 {
        self.inner.gear_seed
    }

    pub(crate) fn cipher(&self) -> Option<&XChaCha20Poly1305> {
        self.inner.cipher.as_ref()
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Debug for WorkspaceKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkspaceKeys")
            .field("encrypted", &self.is_encrypted())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    #[test]
    fn plain_keys_are_deterministic_and_per_workspace() {
        let a = WorkspaceKeys::plain(ws(1));
        let b = WorkspaceKeys::plain(ws(1));
        let c = WorkspaceKeys::plain(ws(2));
        assert!(!a.is_encrypted());
        assert_eq!(a.chunk_id_key(), b.chunk_id_key());
        assert_eq!(a.gear_seed(), b.gear_seed());
        assert_ne!(a.chunk_id_key(), c.chunk_id_key());
        assert_ne!(a.gear_seed(), c.gear_seed());
        assert_ne!(a.chunk_id_key(), a.content_hash_key());
        assert_eq!(a.key_check(), None);
    }

    #[test]
    fn debug_prints_no_key_material() {
        let keys = WorkspaceKeys::plain(ws(7));
        let text = format!("{keys:?}");
        assert_eq!(text, "WorkspaceKeys { encrypted: false, .. }");
    }

    #[test]
    fn passphrase_keys_depend_on_passphrase_and_workspace() {
        assert!(matches!(
            WorkspaceKeys::from_passphrase(ws(1), ""),
            Err(ChunkError::EmptyPassphrase)
        ));
        let a = WorkspaceKeys::from_passphrase(ws(1), "correct horse").unwrap();
        let b = WorkspaceKeys::from_passphrase(ws(1), "correct horse").unwrap();
        let c = WorkspaceKeys::from_passphrase(ws(1), "correct horsf").unwrap();
        let d = WorkspaceKeys::from_passphrase(ws(2), "correct horse").unwrap();
        assert!(a.is_encrypted());
        assert_eq!(a.chunk_id_key(), b.chunk_id_key());
        assert_eq!(a.key_check(), b.key_check());
        assert_eq!(a.key_check().unwrap().len(), 32);
        for other in [&c, &d] {
            assert_ne!(a.chunk_id_key(), other.chunk_id_key());
            assert_ne!(a.gear_seed(), other.gear_seed());
            assert_ne!(a.key_check(), other.key_check());
        }
        // Encrypted and plain keys of one workspace never coincide.
        assert_ne!(a.chunk_id_key(), WorkspaceKeys::plain(ws(1)).chunk_id_key());
    }
}
