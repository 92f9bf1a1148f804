//! `nimbus-proxy`: the HTTP entry point of Nimbus, an OpenStack-Swift-compatible
//! object store.
//!
//! * [`swift`]: `/v1/{account}/{container}/{object}` with Swift's semantics,
//!   and `/info`;
//! * [`auth`]: TempAuth (`/auth/v1.0`) against the metadata servers over the
//!   RPC, a short-lived token cache, and authorization (owners, workspace
//!   members, container ACLs);
//! * [`index`]: the object index (containers, objects, metadata) in the
//!   proxy's own PostgreSQL database;
//! * [`blobs`]: the bytes, in an opendal operator (fs, Swift or S3);
//! * [`error`]: every failure and its Swift status, in one place.
//!
//! Workspaces are containers: a workspace's container (named by its UUID) in
//! its owner's account is created when the owner is first seen.

pub mod auth;
pub mod blobs;
pub mod config;
pub mod error;
pub mod index;
pub mod stamp;
pub mod startup;
pub mod swift;
pub mod telemetry;
pub mod timestamp;
