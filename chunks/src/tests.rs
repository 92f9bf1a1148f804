//! Cross-module unit tests: round trips, tampering, wrong keys, boundaries.

use std::collections::HashSet;
use std::io::{self, Read};
use std::sync::OnceLock;

use proptest::prelude::*;
use uuid::Uuid;

use crate::*;

const WS: Uuid = Uuid::from_u128(0x6e696d62_7573_4000_8000_000000000001);
const OTHER_WS: Uuid = Uuid::from_u128(0x6e696d62_7573_4000_8000_000000000002);

fn plain() -> WorkspaceKeys {
    WorkspaceKeys::plain(WS)
}

/// Argon2id is slow on purpose: derive each encrypted key set once.
fn encrypted() -> &'static WorkspaceKeys {
    static KEYS: OnceLock<WorkspaceKeys> = OnceLock::new();
    KEYS.get_or_init(|| WorkspaceKeys::from_passphrase(WS, "tr0ub4dor&3").unwrap())
}

fn encrypted_other_passphrase() -> &'static WorkspaceKeys {
    static KEYS: OnceLock<WorkspaceKeys> = OnceLock::new();
    KEYS.get_or_init(|| WorkspaceKeys::from_passphrase(WS, "tr0ub4dor&4").unwrap())
}

/// Deterministic incompressible bytes.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    blake3::Hasher::new_derive_key("nimbus-chunks tests: random bytes")
        .update(&seed.to_le_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

/// Deterministic compressible, text-like bytes.
fn text_bytes(seed: u64, len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "sync",
        "chunk",
        "the",
        "folder",
        "of",
        "a",
        "workspace",
        "device",
        "commit",
        "version",
        "fn",
        "let",
        "mut",
        "return",
        "error",
        "and",
        "file",
        "data",
        "server",
        "client",
        "{",
        "}",
        ";",
        "\n",
        "\n    ",
    ];
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(WORDS[(state % WORDS.len() as u64) as usize].as_bytes());
        out.push(b' ');
    }
    out.truncate(len);
    out
}

fn chunk_all(
    keys: &WorkspaceKeys,
    data: &[u8],
    params: ChunkerParams,
) -> (Vec<SealedChunk>, String, u64) {
    let mut chunker = Chunker::new(data, keys, params);
    let chunks = chunker.by_ref().collect::<Result<Vec<_>, _>>().unwrap();
    let (hash, size) = chunker.finish();
    (chunks, hash, size)
}

fn reassemble(keys: &WorkspaceKeys, chunks: &[SealedChunk]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in chunks {
        let plain = open_chunk(keys, &c.id, &c.sealed).unwrap();
        assert_eq!(plain.len(), c.plain_len as usize);
        out.extend(plain);
    }
    out
}

/// Boundaries as fastcdc's own `StreamCDC` computes them with the same seed.
fn reference_lengths(keys: &WorkspaceKeys, data: &[u8], p: ChunkerParams) -> Vec<usize> {
    fastcdc::v2020::StreamCDC::with_level_and_seed(
        data,
        p.min as usize,
        p.avg as usize,
        p.max as usize,
        fastcdc::v2020::Normalization::Level1,
        keys.gear_seed(),
    )
    .map(|c| c.unwrap().length)
    .collect()
}

const SMALL: ChunkerParams = ChunkerParams {
    min: 1024,
    avg: 4096,
    max: 16384,
};

#[test]
fn round_trips_in_both_modes() {
    for keys in [&plain(), encrypted()] {
        for data in [
            Vec::new(),
            vec![42],
            random_bytes(1, 3_000_000),
            text_bytes(2, 3_000_000),
            vec![0; 5_000_000],
        ] {
            let (chunks, hash, size) = chunk_all(keys, &data, ChunkerParams::DEFAULT);
            assert_eq!(size, data.len() as u64);
            assert_eq!(hash, content_hash(keys, &data));
            assert_eq!(
                content_hash_reader(keys, data.as_slice()).unwrap(),
                (hash.clone(), size)
            );
            assert_eq!(reassemble(keys, &chunks), data);
            for c in &chunks {
                assert_eq!(
                    c.id,
                    chunk_id(keys, &open_chunk(keys, &c.id, &c.sealed).unwrap())
                );
                assert!(c.plain_len <= ChunkerParams::DEFAULT.max);
            }
        }
    }
}

#[test]
fn empty_input_has_no_chunks_and_the_empty_hash() {
    let keys = plain();
    let (chunks, hash, size) = chunk_all(&keys, &[], ChunkerParams::DEFAULT);
    assert!(chunks.is_empty());
    assert_eq!(size, 0);
    assert_eq!(hash, content_hash(&keys, &[]));
    assert_eq!(hash.len(), 7 + 64);
}

#[test]
fn without_the_content_hash_the_chunks_are_the_same() {
    let keys = plain();
    let data = text_bytes(5, 3_000_000);
    let (hashed, _, size) = chunk_all(&keys, &data, ChunkerParams::DEFAULT);
    let mut chunker = Chunker::new(&data[..], &keys, ChunkerParams::DEFAULT).without_content_hash();
    let unhashed = chunker.by_ref().collect::<Result<Vec<_>, _>>().unwrap();
    assert_eq!(unhashed, hashed);
    assert_eq!(chunker.finish(), (String::new(), size));
}

#[test]
fn header_layout_and_compression_choice() {
    let keys = plain();
    let text = text_bytes(3, 100_000);
    let sealed = seal_chunk(&keys, &text).unwrap();
    assert_eq!(&sealed.sealed[..4], b"NBCK");
    assert_eq!(sealed.sealed[4], 1);
    assert_eq!(sealed.sealed[5], FLAG_COMPRESSED);
    assert_eq!(sealed.sealed[6..10], 100_000u32.to_le_bytes());
    assert!(sealed.sealed.len() < text.len() / 2);
    assert_eq!(sealed.id.len(), 64);
    assert!(
        sealed
            .id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );

    let random = random_bytes(4, 100_000);
    let raw = seal_chunk(&keys, &random).unwrap();
    assert_eq!(raw.sealed[5], 0, "incompressible data is stored raw");
    assert_eq!(raw.sealed.len(), HEADER_LEN + random.len());
    assert_eq!(&raw.sealed[HEADER_LEN..], &random[..]);
    // Plain sealing is deterministic, so re-uploads are byte-identical.
    assert_eq!(seal_chunk(&keys, &random).unwrap(), raw);

    let enc = seal_chunk(encrypted(), &random).unwrap();
    assert_eq!(enc.sealed[5], FLAG_ENCRYPTED);
    assert_eq!(
        enc.sealed.len(),
        HEADER_LEN + NONCE_LEN + random.len() + TAG_LEN
    );
    let enc_text = seal_chunk(encrypted(), &text).unwrap();
    assert_eq!(enc_text.sealed[5], FLAG_ENCRYPTED | FLAG_COMPRESSED);
    // A fresh nonce each time: same id, different bytes.
    let again = seal_chunk(encrypted(), &random).unwrap();
    assert_eq!(again.id, enc.id);
    assert_ne!(again.sealed, enc.sealed);
    // Ids of the same plaintext differ between workspaces and modes.
    assert_ne!(enc.id, raw.id);
    assert_ne!(chunk_id(&WorkspaceKeys::plain(OTHER_WS), &random), raw.id);
}

fn expect_err(result: Result<Vec<u8>, ChunkError>) -> ChunkError {
    match result {
        Ok(plain) => panic!("expected an error, opened {} bytes", plain.len()),
        Err(e) => e,
    }
}

fn assert_every_byte_is_checked(keys: &WorkspaceKeys, chunk: &SealedChunk) {
    for i in 0..chunk.sealed.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut bad = chunk.sealed.clone();
            bad[i] ^= mask;
            let result = open_chunk(keys, &chunk.id, &bad);
            assert!(
                result.is_err(),
                "flipping {mask:#04x} at byte {i} of {} went unnoticed (flags {:#04x})",
                chunk.sealed.len(),
                chunk.sealed[5]
            );
        }
    }
    for len in 0..chunk.sealed.len() {
        assert!(
            open_chunk(keys, &chunk.id, &chunk.sealed[..len]).is_err(),
            "truncated to {len}"
        );
    }
    for extra in [&[0u8][..], &[0x28, 0xb5, 0x2f, 0xfd], &[0; 16]] {
        let mut long = chunk.sealed.clone();
        long.extend_from_slice(extra);
        assert!(
            open_chunk(keys, &chunk.id, &long).is_err(),
            "extended by {extra:?}"
        );
    }
}

#[test]
fn tampering_with_any_byte_is_an_error() {
    let random = random_bytes(5, 3000);
    let text = text_bytes(6, 6000);
    for keys in [&plain(), encrypted()] {
        for data in [&random, &text] {
            let chunk = seal_chunk(keys, data).unwrap();
            assert_eq!(open_chunk(keys, &chunk.id, &chunk.sealed).unwrap(), *data);
            assert_every_byte_is_checked(keys, &chunk);
        }
    }
}

#[test]
fn tampering_errors_say_corrupt() {
    let keys = plain();
    let chunk = seal_chunk(&keys, &text_bytes(7, 50_000)).unwrap();
    let mut bad = chunk.sealed.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let err = expect_err(open_chunk(&keys, &chunk.id, &bad));
    assert!(err.is_corrupt(), "{err}");
    let mut bad = chunk.sealed.clone();
    bad[4] = 2;
    let err = expect_err(open_chunk(&keys, &chunk.id, &bad));
    assert!(
        matches!(err, ChunkError::UnsupportedVersion { version: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade Nimbus"));
}

#[test]
fn wrong_keys_and_wrong_ids_are_errors() {
    let data = text_bytes(8, 40_000);
    let p = seal_chunk(&plain(), &data).unwrap();
    let e = seal_chunk(encrypted(), &data).unwrap();

    let err = expect_err(open_chunk(
        &WorkspaceKeys::plain(OTHER_WS),
        &p.id,
        &p.sealed,
    ));
    assert!(matches!(err, ChunkError::HashMismatch { .. }), "{err}");
    let err = expect_err(open_chunk(encrypted_other_passphrase(), &e.id, &e.sealed));
    assert!(matches!(err, ChunkError::Decrypt { .. }), "{err}");
    let err = expect_err(open_chunk(&plain(), &e.id, &e.sealed));
    assert!(matches!(err, ChunkError::NeedsPassphrase { .. }), "{err}");
    let err = expect_err(open_chunk(encrypted(), &p.id, &p.sealed));
    assert!(matches!(err, ChunkError::NotEncrypted { .. }), "{err}");

    // A valid chunk stored under another chunk's name.
    let other = seal_chunk(encrypted(), &text_bytes(9, 40_000)).unwrap();
    let err = expect_err(open_chunk(encrypted(), &other.id, &e.sealed));
    assert!(matches!(err, ChunkError::Decrypt { .. }), "{err}");
    let other = seal_chunk(&plain(), &text_bytes(9, 40_000)).unwrap();
    let err = expect_err(open_chunk(&plain(), &other.id, &p.sealed));
    assert!(matches!(err, ChunkError::Damaged { .. }), "{err}");
    let raw = seal_chunk(&plain(), &random_bytes(9, 40_000)).unwrap();
    let err = expect_err(open_chunk(&plain(), &other.id, &raw.sealed));
    assert!(matches!(err, ChunkError::HashMismatch { .. }), "{err}");

    for id in [
        String::new(),
        p.id.to_uppercase(),
        p.id[..63].to_owned(),
        format!("{}0", p.id),
        format!("../{}", &p.id[3..]),
        format!("{}é", &p.id[..62]),
    ] {
        let err = expect_err(open_chunk(&plain(), &id, &p.sealed));
        assert!(matches!(err, ChunkError::InvalidId(_)), "{id:?}: {err}");
    }
}

#[test]
fn chunker_matches_fastcdc_stream_cdc() {
    let data = random_bytes(10, 6_000_000);
    for keys in [&plain(), &WorkspaceKeys::plain(OTHER_WS)] {
        for params in [
            ChunkerParams::DEFAULT,
            SMALL,
            ChunkerParams::new(64, 256, 1024).unwrap(),
            ChunkerParams::new(256 * 1024, 1024 * 1024, 4 * 1024 * 1024).unwrap(),
        ] {
            let (chunks, _, _) = chunk_all(keys, &data, params);
            let ours: Vec<usize> = chunks.iter().map(|c| c.plain_len as usize).collect();
            assert_eq!(ours, reference_lengths(keys, &data, params), "{params}");
            let (last, rest) = ours.split_last().unwrap();
            assert!(*last <= params.max as usize);
            for len in rest {
                assert!((params.min as usize..=params.max as usize).contains(len));
            }
        }
    }
    // The seed matters: another workspace cuts elsewhere.
    assert_ne!(
        reference_lengths(&plain(), &data, SMALL),
        reference_lengths(&WorkspaceKeys::plain(OTHER_WS), &data, SMALL)
    );
}

/// A reader that hands out data in awkward pieces and is sometimes interrupted.
struct Dribble<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Dribble<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.step += 1;
        if self.step.is_multiple_of(7) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = (self.step * 7919 % 70_001)
            .min(buf.len())
            .min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn short_and_interrupted_reads_do_not_move_boundaries() {
    let data = text_bytes(11, 2_500_000);
    let keys = plain();
    let (whole, hash, _) = chunk_all(&keys, &data, SMALL);
    let mut chunker = Chunker::new(
        Dribble {
            data: &data,
            step: 0,
        },
        &keys,
        SMALL,
    );
    let dribbled = chunker.by_ref().collect::<Result<Vec<_>, _>>().unwrap();
    assert_eq!(chunker.finish().0, hash);
    let ids = |c: &[SealedChunk]| c.iter().map(|c| c.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&dribbled), ids(&whole));
}

struct Failing;

impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::PermissionDenied, "nope"))
    }
}

#[test]
fn errors_end_the_iteration() {
    let keys = plain();
    let mut chunker = Chunker::new(Failing, &keys, ChunkerParams::DEFAULT);
    let err = chunker.next().unwrap().unwrap_err();
    assert!(matches!(err, ChunkError::Io(_)), "{err}");
    assert!(err.to_string().contains("check that it is readable"));
    assert!(chunker.next().is_none());

    let bad = ChunkerParams {
        min: 1000,
        avg: 999,
        max: 4000,
    };
    let mut chunker = Chunker::new(&b"abc"[..], &keys, bad);
    assert!(matches!(
        chunker.next(),
        Some(Err(ChunkError::InvalidParams { .. }))
    ));
    assert!(chunker.next().is_none());
}

/// Ids of `data` cut with default parameters.
fn id_set(keys: &WorkspaceKeys, data: &[u8]) -> (Vec<String>, HashSet<String>) {
    let (chunks, _, _) = chunk_all(keys, data, ChunkerParams::DEFAULT);
    let ids: Vec<String> = chunks.into_iter().map(|c| c.id).collect();
    let set = ids.iter().cloned().collect();
    (ids, set)
}

#[test]
fn an_insert_changes_only_a_few_chunks() {
    let keys = plain();
    let original = random_bytes(12, 32 << 20);
    let (old_ids, old_set) = id_set(&keys, &original);
    assert!(
        (64..=256).contains(&old_ids.len()),
        "{} chunks for 32 MiB at 256 KiB average",
        old_ids.len()
    );
    for at in [1000, 16 << 20, (32 << 20) - 5] {
        let mut edited = original.clone();
        edited.insert(at, 0x5a);
        let (new_ids, _) = id_set(&keys, &edited);
        let fresh = new_ids.iter().filter(|id| !old_set.contains(*id)).count();
        assert!(
            (1..=3).contains(&fresh),
            "a 1-byte insert at {at} produced {fresh} new chunks of {}",
            new_ids.len()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_data_and_params_round_trip(
        data in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40_000),
            (0u64..1000, 0usize..300_000).prop_map(|(s, n)| text_bytes(s, n)),
            (0u64..1000, 0usize..300_000).prop_map(|(s, n)| random_bytes(s, n)),
        ],
        min_half in 32u32..4096,
        avg_factor in 1u32..8,
        max_factor in 1u32..8,
        encrypt in any::<bool>(),
    ) {
        let min = min_half * 2;
        let avg = (min * avg_factor).max(256);
        let max = (avg * max_factor).max(1024);
        let params = ChunkerParams::new(min, avg, max).unwrap();
        let plain_keys = plain();
        let keys = if encrypt { encrypted() } else { &plain_keys };
        let (chunks, hash, size) = chunk_all(keys, &data, params);
        prop_assert_eq!(size, data.len() as u64);
        prop_assert_eq!(hash, content_hash(keys, &data));
        let lengths: Vec<usize> = chunks.iter().map(|c| c.plain_len as usize).collect();
        prop_assert_eq!(&lengths, &reference_lengths(keys, &data, params));
        prop_assert_eq!(reassemble(keys, &chunks), data);
    }

    #[test]
    fn arbitrary_sealed_bytes_never_open(
        sealed in proptest::collection::vec(any::<u8>(), 0..300),
        header in any::<bool>(),
    ) {
        let mut sealed = sealed;
        if header && sealed.len() >= HEADER_LEN {
            sealed[..4].copy_from_slice(&MAGIC);
            sealed[4] = FORMAT_VERSION;
            sealed[5] &= FLAG_COMPRESSED;
        }
        let id = "0".repeat(64);
        prop_assert!(open_chunk(&plain(), &id, &sealed).is_err());
    }
}
