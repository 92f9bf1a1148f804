//! The Nimbus chunk format: how a file becomes the objects in a workspace's
//! container, and how those objects become the file again.
//!
//! The desktop client uploads files through this crate, and the proxy's REST
//! API (for web and mobile clients) reads and writes the same chunks, so a
//! file uploaded by one can be read by the other. Everything a reader needs
//! is in the chunk itself, its id, and the [`WorkspaceKeys`].
//!
//! # The pipeline
//!
//! ```text
//!  file ──► FastCDC v2020 ──► chunk ──► keyed BLAKE3 ─────────────► id (object name)
//!  (Read)   seeded gear,        │
//!           64K/256K/1M         ├─────► zstd 1 (kept if it saves ≥ 1/32)
//!                               │          │
//!                               │          ▼
//!                               │       XChaCha20-Poly1305 (mode `client` only)
//!                               │          │
//!                               │          ▼
//!                               │       header ‖ [nonce] ‖ payload ‖ [tag] ─► sealed (object body)
//!                               └─────► keyed BLAKE3 of the whole file ─────► content hash
//! ```
//!
//! * **Boundaries** are content-defined ([FastCDC] v2020, fastcdc crate pinned
//!   to `=5.0.0`, normalization level 1), so an insertion moves only the
//!   chunks around it: the rest of the file deduplicates. The gear table is
//!   XORed with a seed derived from the workspace key, so chunk lengths do not
//!   fingerprint content across workspaces. The sizes are a
//!   [`ChunkerParams`], recorded with every file version through
//!   [`ChunkerParams::describe`].
//! * **Ids** are keyed BLAKE3 of the plaintext, with a key derived from the
//!   workspace key: equal chunks of one workspace share an object (uploaded
//!   once), while the server cannot confirm that an encrypted workspace holds
//!   a file it knows.
//! * **Compression**: zstd level 1 per chunk ([`ZSTD_LEVEL`]), compress before
//!   encrypt. Incompressible chunks (media, archives) are stored raw.
//! * **Encryption** (mode `client`): XChaCha20-Poly1305 with a random 24-byte
//!   nonce per chunk, so the same chunk sealed twice gives different bytes
//!   (the id already tells the server that two uploads are equal, nothing
//!   more). The key comes from the passphrase with Argon2id and never leaves
//!   the device; see [`WorkspaceKeys`] for the whole key hierarchy.
//!
//! # The sealed format
//!
//! One object per chunk, named by the chunk id. All integers little-endian.
//!
//! ```text
//!  offset  size  field
//!  ──────  ────  ──────────────────────────────────────────────────────────────
//!       0     4  magic "NBCK" (4e 42 43 4b)
//!       4     1  format version = 1
//!       5     1  flags: bit 0 = payload is one zstd frame, bit 1 = encrypted;
//!                other bits zero
//!       6     4  plaintext length (u32, ≤ 16 MiB)
//!  ── encrypted (flag bit 1) ─────────────────────────────────────────────────
//!      10    24  XChaCha20 nonce, random
//!      34     n  ciphertext of the payload
//!    34+n    16  Poly1305 tag; AAD = bytes 0..10 ‖ the 32 raw bytes of the id
//!  ── plain, compressed (flags = 01) ─────────────────────────────────────────
//!      10     n  zstd frame
//!    10+n    16  check: BLAKE3 derive_key mode, context
//!                "Nimbus 2026-11-01 chunks v1: plain zstd frame check",
//!                over bytes 0..10 ‖ the 32 raw bytes of the id ‖ the frame,
//!                first 16 bytes of its output
//!  ── plain, raw (flags = 00) ─────────────────────────────────────────────────
//!      10     n  the plaintext (n = plaintext length)
//! ```
//!
//! Encrypted, the payload is the zstd frame when bit 0 is set, else the
//! plaintext. Overhead: 10 bytes for raw plain chunks, 26 for compressed
//! plain ones, 50 for encrypted ones.
//!
//! [`open_chunk`] rejects any deviation: wrong magic, an unknown version or
//! flag, a claimed length over 16 MiB, an encrypted chunk without keys or a
//! plain one in an encrypted workspace (a downgrade), a failed tag, a bad
//! zstd frame, output of another length than claimed, and finally content
//! whose keyed BLAKE3 is not the id. So every stored byte is checked:
//! encrypted chunks by the AEAD tag; raw plain chunks because each byte is
//! either a header field checked exactly or plaintext covered by the id;
//! compressed plain chunks by their check, because zstd frames are not
//! canonical (some bits do not change the output, so the id alone would let
//! such damage pass, harmlessly). The plain checks protect against damage,
//! not against the server: in modes `none`/`server` it can derive every
//! plain key. Decompression writes into a buffer of the claimed length, so
//! a hostile frame cannot make it allocate more.
//!
//! What is *not* in the stored chunk and must come from the file version:
//! the order of the chunks, the [`ChunkerParams`] (only needed to cut new
//! versions that deduplicate against old ones), the content hash. The zstd
//! level is not part of the format; any level opens.
//!
//! # Compatibility
//!
//! Boundaries and ids depend on the fastcdc version, the parameters, the
//! key derivation contexts and the Argon2 parameters. A change to any of
//! them would silently end deduplication against existing versions (and, for
//! the key derivation, make existing chunks unreadable), so
//! `tests/golden.rs` pins boundaries, ids, hashes and sealed bytes: if it
//! fails after an upgrade, the upgrade is a format change.
//!
//! # Example
//!
//! ```
//! use nimbus_chunks::{open_chunk, Chunker, ChunkerParams, WorkspaceKeys};
//!
//! let workspace = uuid::Uuid::from_u128(7);
//! let keys = WorkspaceKeys::plain(workspace);
//! let file = b"hello, nimbus".repeat(100_000);
//!
//! let mut chunker = Chunker::new(&file[..], &keys, ChunkerParams::DEFAULT);
//! let chunks: Vec<_> = chunker.by_ref().collect::<Result<_, _>>()?;
//! let (content_hash, size) = chunker.finish();
//! assert_eq!(size, file.len() as u64);
//! assert!(content_hash.starts_with("blake3:"));
//!
//! // ... upload `chunk.sealed` as object `chunk.id`, commit ids, size, hash
//! // and ChunkerParams::DEFAULT.describe() ...
//!
//! let mut restored = Vec::new();
//! for chunk in &chunks {
//!     restored.extend(open_chunk(&keys, &chunk.id, &chunk.sealed)?);
//! }
//! assert_eq!(restored, file);
//! # Ok::<(), nimbus_chunks::ChunkError>(())
//! ```
//!
//! [FastCDC]: https://www.usenix.org/conference/atc16/technical-sessions/presentation/xia

mod chunker;
mod error;
mod format;
mod keys;
mod params;
#[cfg(test)]
mod tests;

pub use chunker::{Chunker, ContentHasher, content_hash, content_hash_reader};
pub use error::ChunkError;
pub use format::{
    FLAG_COMPRESSED, FLAG_ENCRYPTED, FORMAT_VERSION, FRAME_CHECK_CONTEXT, HEADER_LEN, MAGIC,
    NONCE_LEN, SealedChunk, TAG_LEN, ZSTD_LEVEL, chunk_id, open_chunk, seal_chunk,
};
pub use keys::{ARGON2_M_COST_KIB, ARGON2_P_COST, ARGON2_T_COST, WorkspaceKeys};
pub use params::{ALGORITHM, ChunkerParams, MAX_CHUNK_LEN};
