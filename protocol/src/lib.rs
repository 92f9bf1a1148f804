//! Wire contract between every Nimbus component.
//!
//! Nimbus keeps metadata and data apart (the StackSync principle): file bytes
//! travel over HTTP to the object store, metadata travels as JSON messages over
//! RabbitMQ to a pool of stateless metadata servers. This crate is the only code
//! the binaries share, and it holds exactly that contract:
//!
//! * [`rpc`]: the request envelope, every operation with its reply type, and the
//!   error codes a caller can act on;
//! * [`notify`]: the push messages a metadata server publishes: after a commit,
//!   and to the users a sharing step concerns;
//! * [`topology`]: the names of exchanges, queues and routing keys, derived from
//!   one configurable prefix so that deployments and test runs can share a broker;
//! * [`names`]: the rules for item names and chunk ids, enforced on both sides
//!   of every interface;
//! * [`oauth1`]: OAuth 1.0a signature verification for the REST API;
//! * [`client`]: the AMQP RPC client used by the proxy, the desktop client and
//!   the tests, and a listener for push notifications;
//! * [`health`]: the body of `/readyz` on the proxy and the metadata server;
//! * [`trace`]: the trace id that ties a user's request to the RPCs it makes.

pub mod admin;
pub mod client;
pub mod health;
pub mod names;
pub mod notify;
pub mod oauth1;
pub mod rpc;
pub mod topology;
pub mod trace;

pub use client::{ClientError, NotificationListener, RpcClient};
pub use topology::Topology;
