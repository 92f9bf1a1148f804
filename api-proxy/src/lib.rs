//! `nimbus-proxy`: the HTTP entry point of Nimbus, an OpenStack-Swift-compatible
//! object store.
//!
//! * [`swift`]: `/v1/{account}/{container}/{object}` with Swift's semantics,
//!   and `/info`;
//! * [`routes`]: the other routes (TempAuth, OAuth, REST, web UI) as tables
//!   that the authorization matrix tests enumerate;
//! * [`auth`]: TempAuth (`/auth/v1.0`) against the metadata servers over the
//!   RPC, a short-lived token cache, and authorization (owners, workspace
//!   members, container ACLs);
//! * [`index`]: the object index (containers, objects, metadata) in the
//!   proxy's own PostgreSQL database (`migrations/proxy/`);
//! * [`blobs`]: the bytes, in an opendal operator (fs, Swift or S3);
//! * [`sweeper`]: removal of blobs that interrupted writes left unreferenced;
//! * [`chunk_collection`]: removal of chunks that no version references;
//! * [`upload_sessions`]: the saved state of the web UI's resumable uploads;
//! * [`error`]: every failure and its Swift status, in one place.
//!
//! # Decisions
//!
//! * **Blobs are immutable and named by fresh UUIDs**, never by object names:
//!   no name (`../x`, NUL, 1 KiB of slashes) can reach the backend's paths.
//!   A PUT streams the body into a new blob while hashing it (MD5, for the
//!   ETag), and only then commits the index row pointing at it; an overwrite
//!   swaps the row in one statement and deletes the old blob afterwards. So
//!   readers never see a partial object, and a failed upload (ETag mismatch,
//!   client gone, too large, container deleted meanwhile) deletes its blob.
//!   A blob appears under its key only once complete and fsynced (a rename
//!   from a temporary file on `fs`), and start-up removes the temporary files
//!   of uploads a crash cut short. A crash between the two steps leaves an
//!   unreferenced blob, never served; the [`sweeper`] deletes such blobs once
//!   they are an hour old.
//! * **Small objects live in the index row** (≤ `inline_object_max_bytes`,
//!   16 KiB): storing one is a single durable commit instead of a file fsync
//!   plus a commit, and reading one is the row lookup a GET makes anyway.
//!   Most files of a synced folder are small, so this is most objects by
//!   count; the body is buffered up to the limit, then spills into a blob.
//! * **Memory is constant** per request: bodies are streamed in both
//!   directions (ranges and multi-range answers included); only inline
//!   objects, SLO manifests (≤ 8 MiB) and bulk-delete bodies are read whole.
//! * **Container ACLs are cached** for `container_cache_secs` (10 s; Swift
//!   caches container info for 60 s), so authorizing an object request needs
//!   no database round trip; changes made through this proxy apply at once.
//! * **Counters are exact**: account and container counts and bytes are
//!   aggregated from the index on request (real Swift's are eventually
//!   consistent).
//! * **Tokens are the metadata servers' device tokens.** TempAuth logs the user
//!   in over the RPC with a token lifetime; any request's token is checked with
//!   `getAccount` + `getWorkspaces` and the answer cached for
//!   `token_cache_secs` (30 s), never past the token's expiry; revocations
//!   and access changes reach every proxy's cache at once as user events
//!   ([`auth::invalidation`]).
//!   The TempAuth reply adds `X-Nimbus-Rpc-Url` and `X-Nimbus-Rpc-Prefix`.
//! * **Who may do what**: an account's admin users own it; other users of the
//!   account and anonymous callers need container ACLs (`account`,
//!   `account:user`, `AUTH_account`, `.r:`, `.rlistings`); members of a shared
//!   workspace may read its container, and write if their role can. A
//!   workspace's container (its UUID) in the owner's account is created when
//!   the owner's token is first seen.
//! * **Deliberate differences from Swift**: container and account names `.`
//!   and `..` are refused (400) because URL normalizers would rewrite them;
//!   no account ACLs or Keystone (and `/info` says so by not listing them);
//!   see `docs/swift-compatibility.md`.
//! * **TempURL and quotas** (`swift::tempurl`, `swift::quota`): a TempURL
//!   request runs with no identity, only the signed access to its object
//!   (and, for reads, the segments of a large object within the key's
//!   scope); SHA-1 signatures only with `tempurl_allow_sha1`. Account
//!   quotas are set by the installation's administrators, Swift's reseller
//!   admins.
//! * **Chunks a file needs are not the Swift API's to destroy**: in a
//!   workspace's container, deleting, replacing or expiring a chunk object
//!   that a retained version references answers 409
//!   ([`swift::chunk_guard`], which asks the metadata servers). An object
//!   whose blob vanished from the store reads as missing (404) and the index
//!   forgets it, so that a device can store it again.

pub mod auth;
pub mod blobs;
pub mod body_timeout;
pub mod chunk_collection;
pub mod config;
pub mod content;
pub mod error;
pub mod health;
pub mod index;
pub mod metrics;
pub mod oauth;
pub mod rekey;
pub mod request_id;
pub mod rest;
pub mod routes;
pub mod sign_in_rate;
pub mod stamp;
pub mod startup;
pub mod state;
pub mod sweeper;
pub mod swift;
pub mod telemetry;
pub mod timestamp;
pub mod tree;
pub mod upload_sessions;
pub mod versions;
pub mod web;
