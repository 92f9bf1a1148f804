//! The stored form of one chunk: sealing and opening.
//!
//! See the [crate documentation](crate#the-sealed-format) for the byte
//! layout; the constants below are its numbers.

use std::cell::RefCell;

use chacha20poly1305::aead::{AeadInOut, Generate};
use chacha20poly1305::{Tag, XNonce};

use crate::params::MAX_CHUNK_LEN;
use crate::{ChunkError, WorkspaceKeys};

/// First four bytes of every stored chunk.
pub const MAGIC: [u8; 4] = *b"NBCK";
/// The format version this build writes, and the newest it reads.
pub const FORMAT_VERSION: u8 = 1;
/// Length of the fixed header: magic, version, flags, plaintext length.
pub const HEADER_LEN: usize = 10;
/// Length of the random XChaCha20 nonce that follows the header of
/// encrypted chunks.
pub const NONCE_LEN: usize = 24;
/// Length of the trailer: the Poly1305 tag that ends encrypted chunks, or
/// the BLAKE3 check that ends compressed plain chunks.
pub const TAG_LEN: usize = 16;
/// Flag bit: the payload is one zstd frame.
pub const FLAG_COMPRESSED: u8 = 0b01;
/// Flag bit: nonce, XChaCha20-Poly1305 ciphertext and tag.
pub const FLAG_ENCRYPTED: u8 = 0b10;
const KNOWN_FLAGS: u8 = FLAG_COMPRESSED | FLAG_ENCRYPTED;
/// BLAKE3 `derive_key` context of the check that ends compressed plain
/// chunks (zstd frames are not canonical: some bits do not change the
/// output, so the id alone would not notice every damaged byte).
pub const FRAME_CHECK_CONTEXT: &str = "Nimbus 2026-11-01 chunks v1: plain zstd frame check";

/// zstd level used for every chunk. Level 1 over 3: on text-like data it
/// runs about 1.5× faster for ~15% larger output, and the pipeline is
/// bound by compression (see the `pipeline` benchmark). Not part of the
/// format: any level decodes.
pub const ZSTD_LEVEL: i32 = 1;

/// One chunk, ready to upload.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedChunk {
    /// 64 lowercase hex digits: the keyed BLAKE3 of the plaintext. Also the
    /// object name in the workspace's container.
    pub id: String,
    /// Length of the plaintext, bytes.
    pub plain_len: u32,
    /// The stored bytes (header, nonce, payload, tag).
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for SealedChunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedChunk")
            .field("id", &self.id)
            .field("plain_len", &self.plain_len)
            .field("sealed_len", &self.sealed.len())
            .finish()
    }
}

/// The chunk id of a plaintext: keyed BLAKE3, 64 lowercase hex digits.
pub fn chunk_id(keys: &WorkspaceKeys, plain: &[u8]) -> String {
    blake3::keyed_hash(keys.chunk_id_key(), plain)
        .to_hex()
        .to_string()
}

/// Seals one plaintext as a chunk (compress if it helps, encrypt if the
/// keys are encrypted). For callers that cut chunks themselves, e.g. a
/// small upload through the REST API; files go through [`Chunker`].
///
/// [`Chunker`]: crate::Chunker
///
/// # Errors
///
/// [`ChunkError::TooLarge`] beyond [`MAX_CHUNK_LEN`], and the local
/// failures [`ChunkError::Compress`] and [`ChunkError::Random`].
pub fn seal_chunk(keys: &WorkspaceKeys, plain: &[u8]) -> Result<SealedChunk, ChunkError> {
    Sealer::new()?.seal(keys, plain)
}

/// Reusable sealing state, one per chunker: the zstd context and a scratch
/// buffer for the frame, so the sealed `Vec` is allocated at its exact size.
pub(crate) struct Sealer {
    compressor: zstd::bulk::Compressor<'static>,
    scratch: Vec<u8>,
}

impl Sealer {
    pub(crate) fn new() -> Result<Self, ChunkError> {
        let compressor = zstd::bulk::Compressor::new(ZSTD_LEVEL).map_err(ChunkError::Compress)?;
        Ok(Self {
            compressor,
            scratch: Vec::new(),
        })
    }

    pub(crate) fn seal(
        &mut self,
        keys: &WorkspaceKeys,
        plain: &[u8],
    ) -> Result<SealedChunk, ChunkError> {
        let id = blake3::keyed_hash(keys.chunk_id_key(), plain);
        let plain_len = match u32::try_from(plain.len()) {
            Ok(len) if len <= MAX_CHUNK_LEN => len,
            _ => {
                return Err(ChunkError::TooLarge {
                    id: id.to_hex().to_string(),
                    plain_len: u32::try_from(plain.len()).unwrap_or(u32::MAX),
                    max: MAX_CHUNK_LEN,
                });
            }
        };

        // Keep the zstd frame only if it saves at least 1/32 of the size;
        // otherwise store the plaintext (cheaper to open, zstd gains nothing).
        self.scratch.clear();
        self.scratch
            .reserve(zstd::zstd_safe::compress_bound(plain.len()));
        let written = self
            .compressor
            .compress_to_buffer(plain, &mut self.scratch)
            .map_err(ChunkError::Compress)?;
        let compressed = written < plain.len() - plain.len() / 32;
        let payload: &[u8] = if compressed { &self.scratch } else { plain };

        let cipher = keys.cipher();
        let mut flags = 0;
        if compressed {
            flags |= FLAG_COMPRESSED;
        }
        if cipher.is_some() {
            flags |= FLAG_ENCRYPTED;
        }
        let header = header_bytes(flags, plain_len);
        let extra = match (cipher.is_some(), compressed) {
            (true, _) => NONCE_LEN + TAG_LEN,
            (false, true) => TAG_LEN,
            (false, false) => 0,
        };
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + extra);
        out.extend_from_slice(&header);

        match cipher {
            None => {
                out.extend_from_slice(payload);
                if compressed {
                    out.extend_from_slice(&frame_check(&header, id.as_bytes(), payload));
                }
            }
            Some(cipher) => {
                let nonce =
                    XNonce::try_generate().map_err(|e| ChunkError::Random(e.to_string()))?;
                out.extend_from_slice(&nonce);
                out.extend_from_slice(payload);
                let aad = associated_data(&header, id.as_bytes());
                let start = HEADER_LEN + NONCE_LEN;
                let tag = cipher
                    .encrypt_inout_detached(&nonce, &aad, (&mut out[start..]).into())
                    .map_err(|_| ChunkError::TooLarge {
                        id: id.to_hex().to_string(),
                        plain_len,
                        max: MAX_CHUNK_LEN,
                    })?;
                out.extend_from_slice(&tag);
            }
        }
        debug_assert_eq!(out.len(), out.capacity());
        Ok(SealedChunk {
            id: id.to_hex().to_string(),
            plain_len,
            sealed: out,
        })
    }
}

fn header_bytes(flags: u8, plain_len: u32) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..4].copy_from_slice(&MAGIC);
    header[4] = FORMAT_VERSION;
    header[5] = flags;
    header[6..].copy_from_slice(&plain_len.to_le_bytes());
    header
}

/// AAD of encrypted chunks: the header, then the 32 raw bytes of the id.
/// A ciphertext moved to another id, or with an edited header, fails.
fn associated_data(header: &[u8; HEADER_LEN], id: &[u8; 32]) -> [u8; HEADER_LEN + 32] {
    let mut aad = [0u8; HEADER_LEN + 32];
    aad[..HEADER_LEN].copy_from_slice(header);
    aad[HEADER_LEN..].copy_from_slice(id);
    aad
}

/// The trailer of compressed plain chunks: BLAKE3 in key-derivation mode
/// (a fixed public context, like the plain keys) over header, id and frame,
/// truncated to 16 bytes.
fn frame_check(header: &[u8; HEADER_LEN], id: &[u8; 32], frame: &[u8]) -> [u8; TAG_LEN] {
    let mut hasher = blake3::Hasher::new_derive_key(FRAME_CHECK_CONTEXT);
    hasher.update(header).update(id).update(frame);
    let mut check = [0u8; TAG_LEN];
    hasher.finalize_xof().fill(&mut check);
    check
}

/// Parses a chunk id (64 lowercase hex digits) into its 32 bytes.
pub(crate) fn parse_id(id: &str) -> Result<[u8; 32], ChunkError> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let invalid = || ChunkError::InvalidId(id.chars().take(80).collect());
    let digits = id.as_bytes();
    if digits.len() != 64 {
        return Err(invalid());
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let (Some(hi), Some(lo)) = (nibble(pair[0]), nibble(pair[1])) else {
            return Err(invalid());
        };
        *byte = hi << 4 | lo;
    }
    Ok(out)
}

thread_local! {
    /// One zstd decompression context per thread, reused across chunks.
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

fn decompress(payload: &[u8], plain_len: u32, id: &str) -> Result<Vec<u8>, ChunkError> {
    let mut plain = Vec::with_capacity(plain_len as usize);
    DECOMPRESSOR
        .with(|cell| {
            let mut slot = cell.borrow_mut();
            let decompressor = match slot.as_mut() {
                Some(d) => d,
                None => slot.insert(zstd::bulk::Decompressor::new()?),
            };
            // The capacity is the claimed length, so a frame that expands
            // further is an error, never an allocation.
            decompressor.decompress_to_buffer(payload, &mut plain)
        })
        .map_err(|source| ChunkError::Decompress {
            id: id.to_owned(),
            source,
        })?;
    Ok(plain)
}

/// Verifies and opens a stored chunk.
///
/// Checks the header (magic, version, flags, claimed length), that the
/// chunk is encrypted exactly when the workspace is, decrypts (the AAD binds
/// header and id), decompresses into at most the claimed length, and checks
/// that the keyed BLAKE3 of the plaintext equals `id`. Any mismatch is an
/// error, never wrong bytes.
///
/// # Errors
///
/// [`ChunkError::InvalidId`] for a malformed id; otherwise an error for
/// which [`ChunkError::is_corrupt`] holds, except
/// [`ChunkError::UnsupportedVersion`] (upgrade) and
/// [`ChunkError::NeedsPassphrase`] (wrong keys).
pub fn open_chunk(keys: &WorkspaceKeys, id: &str, sealed: &[u8]) -> Result<Vec<u8>, ChunkError> {
    let want = parse_id(id)?;
    let truncated = || ChunkError::Truncated {
        id: id.to_owned(),
        len: sealed.len(),
    };
    let Some(header) = sealed.first_chunk::<HEADER_LEN>() else {
        return Err(truncated());
    };
    if header[..4] != MAGIC {
        return Err(ChunkError::BadMagic { id: id.to_owned() });
    }
    if header[4] != FORMAT_VERSION {
        return Err(ChunkError::UnsupportedVersion {
            id: id.to_owned(),
            version: header[4],
            supported: FORMAT_VERSION,
        });
    }
    let flags = header[5];
    if flags & !KNOWN_FLAGS != 0 {
        return Err(ChunkError::UnknownFlags {
            id: id.to_owned(),
            flags,
        });
    }
    let plain_len = u32::from_le_bytes([header[6], header[7], header[8], header[9]]);
    if plain_len > MAX_CHUNK_LEN {
        return Err(ChunkError::TooLarge {
            id: id.to_owned(),
            plain_len,
            max: MAX_CHUNK_LEN,
        });
    }
    let compressed = flags & FLAG_COMPRESSED != 0;
    let encrypted = flags & FLAG_ENCRYPTED != 0;
    let body = &sealed[HEADER_LEN..];

    let plain = match (encrypted, keys.cipher()) {
        (true, None) => return Err(ChunkError::NeedsPassphrase { id: id.to_owned() }),
        (false, Some(_)) => return Err(ChunkError::NotEncrypted { id: id.to_owned() }),
        (true, Some(cipher)) => {
            if body.len() < NONCE_LEN + TAG_LEN {
                return Err(truncated());
            }
            let (nonce, rest) = body.split_at(NONCE_LEN);
            let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
            if !compressed && ciphertext.len() != plain_len as usize {
                return Err(ChunkError::LengthMismatch {
                    id: id.to_owned(),
                    expected: plain_len,
                    actual: ciphertext.len(),
                });
            }
            let nonce = XNonce::try_from(nonce).map_err(|_| truncated())?;
            let tag = Tag::try_from(tag).map_err(|_| truncated())?;
            let aad = associated_data(header, &want);
            let mut payload = ciphertext.to_vec();
            cipher
                .decrypt_inout_detached(&nonce, &aad, payload.as_mut_slice().into(), &tag)
                .map_err(|_| ChunkError::Decrypt { id: id.to_owned() })?;
            if compressed {
                decompress(&payload, plain_len, id)?
            } else {
                payload
            }
        }
        (false, None) => {
            if compressed {
                let Some(frame_len) = body.len().checked_sub(TAG_LEN) else {
                    return Err(truncated());
                };
                let (frame, check) = body.split_at(frame_len);
                if frame_check(header, &want, frame) != check {
                    return Err(ChunkError::Damaged { id: id.to_owned() });
                }
                decompress(frame, plain_len, id)?
            } else if body.len() == plain_len as usize {
                body.to_vec()
            } else {
                return Err(ChunkError::LengthMismatch {
                    id: id.to_owned(),
                    expected: plain_len,
                    actual: body.len(),
                });
            }
        }
    };
    if plain.len() != plain_len as usize {
        return Err(ChunkError::LengthMismatch {
            id: id.to_owned(),
            expected: plain_len,
            actual: plain.len(),
        });
    }
    // `Hash` equality is constant time.
    if blake3::keyed_hash(keys.chunk_id_key(), &plain) != blake3::Hash::from_bytes(want) {
        return Err(ChunkError::HashMismatch { id: id.to_owned() });
    }
    Ok(plain)
}
