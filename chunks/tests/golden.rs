//! Golden vectors: boundaries, ids, content hashes, key derivation and
//! sealed bytes of this build, pinned.
//!
//! If this fails after a dependency upgrade (fastcdc, blake3, argon2, zstd
//! decoding) or a code change, the change alters the stored format: existing
//! versions would stop deduplicating or stop opening. Do not update the
//! vectors; revert, or introduce a new chunker name / format version.

use nimbus_chunks::{
    Chunker, ChunkerParams, SealedChunk, WorkspaceKeys, chunk_id, content_hash, open_chunk,
    seal_chunk,
};
use uuid::Uuid;

const WS: Uuid = Uuid::from_u128(0x0192_5e4f_7a3b_7c1d_8e2f_a0b1_c2d3_e4f5);

/// 3 MiB of BLAKE3 XOF output followed by 1 MiB of repeated text.
fn input() -> Vec<u8> {
    let mut data = vec![0; 3 << 20];
    blake3::Hasher::new_derive_key("nimbus-chunks golden vectors")
        .finalize_xof()
        .fill(&mut data);
    let line = b"Nimbus golden vector: the quick brown fox jumps over the lazy dog.\n";
    while data.len() < 4 << 20 {
        data.extend_from_slice(line);
    }
    data.truncate(4 << 20);
    data
}

fn chunk(keys: &WorkspaceKeys, data: &[u8], params: ChunkerParams) -> (Vec<SealedChunk>, String) {
    let mut chunker = Chunker::new(data, keys, params);
    let chunks = chunker.by_ref().collect::<Result<Vec<_>, _>>().unwrap();
    let (hash, size) = chunker.finish();
    assert_eq!(size, data.len() as u64);
    (chunks, hash)
}

/// One digest over every (length, id) pair, so the whole list is pinned.
fn digest(chunks: &[SealedChunk]) -> String {
    let mut h = blake3::Hasher::new();
    for c in chunks {
        h.update(&c.plain_len.to_le_bytes()).update(c.id.as_bytes());
    }
    h.finalize().to_hex()[..16].to_owned()
}

fn lengths(chunks: &[SealedChunk]) -> Vec<u32> {
    chunks.iter().map(|c| c.plain_len).collect()
}

#[test]
fn plain_default_params() {
    let keys = WorkspaceKeys::plain(WS);
    let data = input();
    let (chunks, hash) = chunk(&keys, &data, ChunkerParams::DEFAULT);
    assert_eq!(
        ChunkerParams::DEFAULT.describe(),
        "fastcdc-v2020/5.0.0 min=65536 avg=262144 max=1048576"
    );
    assert_eq!(lengths(&chunks), GOLDEN_PLAIN_LENGTHS, "boundaries moved");
    assert_eq!(chunks[0].id, GOLDEN_PLAIN_FIRST_ID, "chunk ids changed");
    assert_eq!(
        digest(&chunks),
        GOLDEN_PLAIN_DIGEST,
        "some chunk id changed"
    );
    assert_eq!(hash, GOLDEN_PLAIN_CONTENT_HASH, "content hash changed");
    assert_eq!(content_hash(&keys, &data), hash);
}

#[test]
fn plain_small_params() {
    let keys = WorkspaceKeys::plain(WS);
    let params = ChunkerParams::new(2048, 8192, 32768).unwrap();
    let (chunks, _) = chunk(&keys, &input(), params);
    assert_eq!(chunks.len(), GOLDEN_SMALL_COUNT, "boundaries moved");
    assert_eq!(
        digest(&chunks),
        GOLDEN_SMALL_DIGEST,
        "boundaries or ids changed"
    );
}

#[test]
fn passphrase_keys() {
    let keys = WorkspaceKeys::from_passphrase(WS, "golden passphrase ✓").unwrap();
    assert_eq!(
        keys.key_check().unwrap(),
        GOLDEN_KEY_CHECK,
        "Argon2id or derivation changed"
    );
    let data = input();
    let (chunks, hash) = chunk(&keys, &data, ChunkerParams::DEFAULT);
    assert_eq!(
        lengths(&chunks),
        GOLDEN_ENCRYPTED_LENGTHS,
        "seeded boundaries moved"
    );
    assert_eq!(
        digest(&chunks),
        GOLDEN_ENCRYPTED_DIGEST,
        "chunk ids changed"
    );
    assert_eq!(hash, GOLDEN_ENCRYPTED_CONTENT_HASH, "content hash changed");

    // A chunk sealed by this build must open in every later one.
    let sealed = hex(GOLDEN_SEALED_ENCRYPTED);
    let plain = open_chunk(&keys, GOLDEN_SEALED_ENCRYPTED_ID, &sealed).unwrap();
    assert_eq!(plain, GOLDEN_SEALED_PLAINTEXT.repeat(20));
}

#[test]
fn sealed_plain_bytes() {
    let keys = WorkspaceKeys::plain(WS);
    // Raw plain chunks are fully deterministic: header and plaintext.
    let raw = seal_chunk(&keys, b"abc").unwrap();
    assert_eq!(raw.id, chunk_id(&keys, b"abc"));
    assert_eq!(raw.id, GOLDEN_ABC_ID);
    assert_eq!(raw.sealed, hex("4e42434b0100030000006162 63"));
    // A compressed plain chunk sealed by this build must keep opening (zstd
    // output may change with libzstd versions, so it is not compared).
    let sealed = hex(GOLDEN_SEALED_PLAIN);
    let plain = open_chunk(&keys, GOLDEN_SEALED_PLAIN_ID, &sealed).unwrap();
    assert_eq!(plain, GOLDEN_SEALED_PLAINTEXT.repeat(20));
}

/// Prints the current vectors (`cargo test -p nimbus-chunks --test golden
/// -- --ignored --nocapture print`), for a deliberate new format only.
#[test]
#[ignore]
fn print() {
    let plain = WorkspaceKeys::plain(WS);
    let enc = WorkspaceKeys::from_passphrase(WS, "golden passphrase ✓").unwrap();
    let data = input();
    let (c, h) = chunk(&plain, &data, ChunkerParams::DEFAULT);
    println!(
        "plain lengths {:?}\nfirst {}\ndigest {}\nhash {h}",
        lengths(&c),
        c[0].id,
        digest(&c)
    );
    let (c, _) = chunk(
        &plain,
        &data,
        ChunkerParams::new(2048, 8192, 32768).unwrap(),
    );
    println!("small count {} digest {}", c.len(), digest(&c));
    let (c, h) = chunk(&enc, &data, ChunkerParams::DEFAULT);
    println!("key check {}", enc.key_check().unwrap());
    println!(
        "enc lengths {:?}\ndigest {}\nhash {h}",
        lengths(&c),
        digest(&c)
    );
    let text = GOLDEN_SEALED_PLAINTEXT.repeat(20);
    let s = seal_chunk(&enc, &text).unwrap();
    println!("sealed enc id {}\n{}", s.id, to_hex(&s.sealed));
    let s = seal_chunk(&plain, &text).unwrap();
    println!("sealed plain id {}\n{}", s.id, to_hex(&s.sealed));
    println!("abc {}", chunk_id(&plain, b"abc"));
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

const GOLDEN_SEALED_PLAINTEXT: &[u8] = b"Nimbus keeps your files in sync. ";

const GOLDEN_PLAIN_LENGTHS: &[u32] = &[
    464045, 325934, 285488, 161743, 166218, 316782, 312010, 298598, 122265, 265763, 165736,
    1048576, 261146,
];
const GOLDEN_PLAIN_FIRST_ID: &str =
    "6cad29f044d518f981e3f88762f29846cf91c1b6c61847f205016ea2a78b62e0";
const GOLDEN_PLAIN_DIGEST: &str = "654e26faff34c41c";
const GOLDEN_PLAIN_CONTENT_HASH: &str =
    "blake3:2de50f69dec54a2987543d8c89dad0a36e136503253756e62f41a291879c727a";
const GOLDEN_SMALL_COUNT: usize = 343;
const GOLDEN_SMALL_DIGEST: &str = "158e13cd53447860";
const GOLDEN_KEY_CHECK: &str = "4466027563d804f77dc32075ea7333da";
const GOLDEN_ENCRYPTED_LENGTHS: &[u32] = &[
    427132, 304580, 540936, 785774, 334287, 159649, 491025, 1048576, 102345,
];
const GOLDEN_ENCRYPTED_DIGEST: &str = "c70903c0f12a9430";
const GOLDEN_ENCRYPTED_CONTENT_HASH: &str =
    "blake3:b489d6d8694646c200ce4acd9111139f1ff021b68faea7552fd2eb9020c7e897";
const GOLDEN_SEALED_ENCRYPTED_ID: &str =
    "e763e31004f3a92d3a12425c5df516326d95e1deb111d86f9f349035d6f0a5ca";
const GOLDEN_SEALED_ENCRYPTED: &str = "
    4e42434b010394020000cd62fab1db3a7794a2719e289a134b855a79450bc67100ef68925f2b4c60ed34ca21f8
    ae0b3b9adc1a7f564b784a65fe1eb140bb1a947b003e46bf649bfeaac4073a4a686deccb8b3437cc5edc558afd
    fa9315268bc143f54aa876b8";
const GOLDEN_SEALED_PLAIN_ID: &str =
    "7ec4818580d8bfb82d9657826fe2d2723fc09ea967c70aaf767154876d3b2dd0";
const GOLDEN_SEALED_PLAIN: &str = "
    4e42434b01019402000028b52ffd60940155010014024e696d627573206b6565707320796f75722066696c6573
    20696e2073796e632e20010081432af50405d41bf4f694794d41fc70b2d65f46f2";
const GOLDEN_ABC_ID: &str = "f30c86bedd107aa932f5a23532fed25a5ef734def43a2bd2a556bfd1828b2697";
