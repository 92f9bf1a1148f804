//! The one error type of the crate.
//!
//! Every message says what went wrong and, where there is something to do,
//! what to do about it. The variants fall into three groups:
//!
//! * **caller mistakes** ([`InvalidParams`], [`EmptyPassphrase`],
//!   [`InvalidId`]): a bug or bad configuration on this device;
//! * **reading and sealing** ([`Io`], [`Compress`], [`Random`],
//!   [`KeyDerivation`]): the local machine failed;
//! * **opening a stored chunk** (everything else): the bytes that came back
//!   from the object store are not a chunk this workspace wrote under that
//!   id. They are never returned as data. [`ChunkError::is_corrupt`] groups
//!   these for callers that want to re-download or report.
//!
//! [`InvalidParams`]: ChunkError::InvalidParams
//! [`EmptyPassphrase`]: ChunkError::EmptyPassphrase
//! [`InvalidId`]: ChunkError::InvalidId
//! [`Io`]: ChunkError::Io
//! [`Compress`]: ChunkError::Compress
//! [`Random`]: ChunkError::Random
//! [`KeyDerivation`]: ChunkError::KeyDerivation

use crate::ChunkerParams;

/// Everything that can go wrong while cutting, sealing or opening chunks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkError {
    /// The chunk sizes break a FastCDC limit.
    #[error(
        "invalid chunker parameters {params:?}: {reason}; use ChunkerParams::DEFAULT unless a \
         measurement says otherwise"
    )]
    InvalidParams {
        /// The rejected parameters.
        params: ChunkerParams,
        /// Which rule they break.
        reason: &'static str,
    },

    /// A chunker description recorded with a file version could not be parsed.
    #[error(
        "unrecognised chunker description {0:?}: this version was cut by a chunker this build \
         does not know; upgrade Nimbus on this device"
    )]
    UnknownChunker(String),

    /// `from_passphrase` was given an empty passphrase.
    #[error("the workspace passphrase is empty: ask the user for the passphrase of this workspace")]
    EmptyPassphrase,

    /// Argon2id refused its input or could not allocate its memory.
    #[error(
        "deriving the workspace key from the passphrase failed ({0}); the key derivation needs \
         64 MiB of free memory"
    )]
    KeyDerivation(String),

    /// Reading the input failed.
    #[error("reading the file failed: {0}; check that it is readable and retry")]
    Io(#[from] std::io::Error),

    /// zstd failed while compressing or could not allocate its context.
    #[error("compressing a chunk failed: {0}")]
    Compress(std::io::Error),

    /// The operating system's random generator failed (no nonce, no encryption).
    #[error(
        "the operating system's random number generator failed ({0}); nothing was encrypted, \
         retry later"
    )]
    Random(String),

    /// The chunk id is not 64 lowercase hexadecimal digits.
    #[error("invalid chunk id {0:?}: a chunk id is 64 lowercase hexadecimal digits")]
    InvalidId(String),

    /// Fewer bytes than even a header (or a header and a nonce and a tag).
    #[error(
        "stored chunk {id} is truncated ({len} bytes): the upload or download was cut short; \
         download it again"
    )]
    Truncated {
        /// The chunk id.
        id: String,
        /// How many bytes there were.
        len: usize,
    },

    /// The first bytes are not the chunk magic.
    #[error(
        "object {id} is not a Nimbus chunk (bad magic bytes): the object store returned \
         something else under this name"
    )]
    BadMagic {
        /// The chunk id.
        id: String,
    },

    /// A newer format version than this build understands.
    #[error(
        "chunk {id} uses format version {version}, newer than this build understands (up to \
         {supported}): upgrade Nimbus on this device"
    )]
    UnsupportedVersion {
        /// The chunk id.
        id: String,
        /// The version in the header.
        version: u8,
        /// The newest version this build reads.
        supported: u8,
    },

    /// Flag bits this build does not know are set.
    #[error(
        "chunk {id} has unknown flags {flags:#04x}: it was written by a newer Nimbus or is \
         damaged; upgrade Nimbus or download it again"
    )]
    UnknownFlags {
        /// The chunk id.
        id: String,
        /// The whole flags byte.
        flags: u8,
    },

    /// The header claims a plaintext larger than any chunk can be.
    #[error(
        "chunk {id} claims {plain_len} bytes of content, more than the largest possible chunk \
         ({max}): it is damaged; download it again"
    )]
    TooLarge {
        /// The chunk id.
        id: String,
        /// The claimed plaintext length.
        plain_len: u32,
        /// The largest allowed.
        max: u32,
    },

    /// An encrypted chunk, but these keys cannot decrypt anything.
    #[error(
        "chunk {id} is encrypted but the keys in use are not: this workspace is end-to-end \
         encrypted, unlock it with its passphrase"
    )]
    NeedsPassphrase {
        /// The chunk id.
        id: String,
    },

    /// A plaintext chunk in an end-to-end encrypted workspace.
    #[error(
        "chunk {id} is not encrypted although this workspace is end-to-end encrypted: refusing \
         it (a damaged or substituted object); download it again and report it if it persists"
    )]
    NotEncrypted {
        /// The chunk id.
        id: String,
    },

    /// The AEAD tag did not verify.
    #[error(
        "chunk {id} failed authentication: it was modified in storage or in transit, or the \
         passphrase is wrong; download it again, and if every chunk fails, check the passphrase"
    )]
    Decrypt {
        /// The chunk id.
        id: String,
    },

    /// The check over a compressed plain chunk failed.
    #[error("chunk {id} is damaged (its check does not match); download it again")]
    Damaged {
        /// The chunk id.
        id: String,
    },

    /// zstd could not decompress the payload.
    #[error("chunk {id} does not decompress ({source}): it is damaged; download it again")]
    Decompress {
        /// The chunk id.
        id: String,
        /// zstd's complaint.
        source: std::io::Error,
    },

    /// The content has another length than the header says.
    #[error(
        "chunk {id} holds {actual} bytes of content but its header says {expected}: it is \
         damaged; download it again"
    )]
    LengthMismatch {
        /// The chunk id.
        id: String,
        /// Length from the header.
        expected: u32,
        /// Length found.
        actual: usize,
    },

    /// The content does not hash to the id it was stored under.
    #[error(
        "chunk {id} does not match its id: it is damaged, stored under the wrong name, or \
         belongs to another workspace; download it again or re-upload it from a device that \
         has the file"
    )]
    HashMismatch {
        /// The chunk id.
        id: String,
    },
}

impl ChunkError {
    /// True when the error says a stored chunk is unusable (damaged, foreign,
    /// substituted or undecryptable), as opposed to a local failure. Callers
    /// typically download such a chunk again once, then report it.
    pub fn is_corrupt(&self) -> bool {
        matches!(
            self,
            Self::Truncated { .. }
                | Self::BadMagic { .. }
                | Self::UnknownFlags { .. }
                | Self::TooLarge { .. }
                | Self::NotEncrypted { .. }
                | Self::Decrypt { .. }
                | Self::Damaged { .. }
                | Self::Decompress { .. }
                | Self::LengthMismatch { .. }
                | Self::HashMismatch { .. }
        )
    }
}
