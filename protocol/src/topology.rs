//! Names of the RabbitMQ exchanges, queues and routing keys.
//!
//! Everything hangs off one prefix (`nimbus` by default) so that several
//! deployments, or several test runs, can share one broker without seeing each
//! other's messages.
//!
//! ```text
//! {prefix}.rpc      direct exchange ──"request"──► {prefix}.rpc.requests  (durable, consumed by every server)
//! {prefix}.rpc.dlx  fanout exchange ─────────────► {prefix}.rpc.dead      (messages that could not be parsed)
//! {prefix}.notify   topic exchange, keys "workspace.<uuid>" and "user.<uuid>"
//!                   ──(bound by a server, on `subscribe`)──► amq.gen-…  (one per listening device)
//!                   ──"user.*"──► amq.gen-…  (exclusive, one per proxy: drops cached identities
//!                                             when a user's workspace access changes)
//! ```
//! Replies go through RabbitMQ's direct reply-to (`amq.rabbitmq.reply-to`).

use uuid::Uuid;

/// Routing key of requests on the RPC exchange.
pub const REQUEST_ROUTING_KEY: &str = "request";

/// RabbitMQ's pseudo-queue for direct replies.
pub const DIRECT_REPLY_TO: &str = "amq.rabbitmq.reply-to";

/// How the names of server-named queues begin: the broker appends 128 random
/// bits, so nobody can guess another connection's queue.
pub const SERVER_NAMED_QUEUE_PREFIX: &str = "amq.gen-";

/// Names derived from a deployment's prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    prefix: String,
}

impl Default for Topology {
    fn default() -> Self {
        Self::new("nimbus")
    }
}

impl Topology {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Direct exchange that requests are published to.
    pub fn rpc_exchange(&self) -> String {
        format!("{}.rpc", self.prefix)
    }

    /// The one durable queue every metadata server consumes.
    pub fn rpc_queue(&self) -> String {
        format!("{}.rpc.requests", self.prefix)
    }

    /// Where the broker moves requests that a server rejected as unparseable.
    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.rpc.dlx", self.prefix)
    }

    /// The queue that keeps dead-lettered requests for an operator to inspect.
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.rpc.dead", self.prefix)
    }

    /// Topic exchange for push notifications.
    pub fn notify_exchange(&self) -> String {
        format!("{}.notify", self.prefix)
    }

    /// Routing key of a workspace's commit notifications.
    pub fn workspace_key(workspace_id: Uuid) -> String {
        format!("workspace.{workspace_id}")
    }

    /// Routing key of notifications meant for all devices of one user.
    pub fn user_key(user_id: Uuid) -> String {
        format!("user.{user_id}")
    }

    /// Binding key that matches the user key of every user: what a proxy
    /// listens to, to hear every change of anyone's access.
    pub const EVERY_USER_KEY: &str = "user.*";
}
