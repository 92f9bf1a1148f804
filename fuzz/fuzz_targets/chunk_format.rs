//! The sealed chunk format (`nimbus_chunks::{seal_chunk, open_chunk}`).
//!
//! Opening arbitrary bytes never panics and never returns bytes other than
//! the plaintext the id names; sealing then opening gives the plaintext back;
//! a damaged chunk opens to its plaintext or to an error. Compressed plain
//! chunks are also built here from arbitrary zstd frames with a valid frame
//! check (per the documented format), so that the decompressor sees them.
#![no_main]

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use nimbus_chunks::{
    FLAG_COMPRESSED, FORMAT_VERSION, FRAME_CHECK_CONTEXT, HEADER_LEN, MAGIC, MAX_CHUNK_LEN,
    WorkspaceKeys, chunk_id, open_chunk, seal_chunk,
};
use uuid::Uuid;

const WORKSPACE: Uuid = Uuid::from_u128(0x4e42_434b);

/// Plain keys, and encrypted ones (Argon2 runs once per process).
static KEYS: LazyLock<[WorkspaceKeys; 2]> = LazyLock::new(|| {
    [
        WorkspaceKeys::plain(WORKSPACE),
        WorkspaceKeys::from_passphrase(WORKSPACE, "fuzz").expect("keys"),
    ]
});

#[derive(Debug, Arbitrary)]
enum Input<'a> {
    /// Arbitrary stored bytes under an arbitrary id.
    Open {
        encrypted: bool,
        id: &'a str,
        sealed: &'a [u8],
    },
    /// Arbitrary stored bytes under the id of a plaintext.
    OpenAs {
        encrypted: bool,
        plain: &'a [u8],
        sealed: &'a [u8],
    },
    /// Seal, damage (maybe), open.
    RoundTrip {
        encrypted: bool,
        plain: &'a [u8],
        /// (offset, xor) pairs applied to the sealed bytes.
        damage: Vec<(u16, u8)>,
        truncate: Option<u16>,
    },
    /// An arbitrary zstd frame in a plain compressed chunk with a valid check.
    Frame {
        plain: &'a [u8],
        claimed_len: u32,
        frame: &'a [u8],
    },
}

fn keys(encrypted: bool) -> &'static WorkspaceKeys {
    &KEYS[usize::from(encrypted)]
}

/// Opens and checks that only the named plaintext ever comes out.
fn open(keys: &WorkspaceKeys, id: &str, sealed: &[u8]) -> Option<Vec<u8>> {
    let plain = open_chunk(keys, id, sealed).ok()?;
    assert_eq!(chunk_id(keys, &plain), id);
    Some(plain)
}

fuzz_target!(|input: Input<'_>| match input {
    Input::Open {
        encrypted,
        id,
        sealed,
    } => {
        open(keys(encrypted), id, sealed);
    }
    Input::OpenAs {
        encrypted,
        plain,
        sealed,
    } => {
        let keys = keys(encrypted);
        if let Some(opened) = open(keys, &chunk_id(keys, plain), sealed) {
            assert_eq!(opened, plain);
        }
    }
    Input::RoundTrip {
        encrypted,
        plain,
        damage,
        truncate,
    } => {
        let keys = keys(encrypted);
        let chunk = seal_chunk(keys, plain).expect("a small chunk seals");
        assert_eq!(chunk.id, chunk_id(keys, plain));
        assert_eq!(chunk.plain_len as usize, plain.len());
        assert_eq!(chunk.sealed[..4], MAGIC);
        assert_eq!(
            open_chunk(keys, &chunk.id, &chunk.sealed).expect("sealed opens"),
            plain
        );
        let mut damaged = chunk.sealed.clone();
        for (offset, xor) in damage {
            let at = usize::from(offset) % damaged.len();
            damaged[at] ^= xor;
        }
        if let Some(len) = truncate {
            damaged.truncate(usize::from(len));
        }
        if let Some(opened) = open(keys, &chunk.id, &damaged) {
            assert_eq!(opened, plain);
        }
    }
    Input::Frame {
        plain,
        claimed_len,
        frame,
    } => {
        let keys = keys(false);
        let id = chunk_id(keys, plain);
        let mut header = [0u8; HEADER_LEN];
        header[..4].copy_from_slice(&MAGIC);
        header[4] = FORMAT_VERSION;
        header[5] = FLAG_COMPRESSED;
        // Mostly small claims: a large one allocates that much per run.
        let claimed_len = claimed_len % (MAX_CHUNK_LEN / 256 + 1);
        header[6..].copy_from_slice(&claimed_len.to_le_bytes());
        let raw_id = blake3::Hash::from_hex(&id).expect("a chunk id is hex");
        let mut check = [0u8; 16];
        blake3::Hasher::new_derive_key(FRAME_CHECK_CONTEXT)
            .update(&header)
            .update(raw_id.as_bytes())
            .update(frame)
            .finalize_xof()
            .fill(&mut check);
        let sealed = [&header[..], frame, &check].concat();
        if let Some(opened) = open(keys, &id, &sealed) {
            assert_eq!(opened, plain);
        }
    }
});
