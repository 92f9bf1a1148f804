//! AMQP RPC client for the metadata servers, and a listener for push
//! notifications.
//!
//! A call publishes the request (persistent) to the RPC exchange with RabbitMQ's
//! direct reply-to and waits for the reply with the same correlation id. A call
//! that gets no answer in time, or whose connection broke, is re-sent with the
//! *same request id* on a fresh connection: operations are idempotent on it, so
//! a retry can never apply a commit twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer, ExchangeKind};
use serde::de::DeserializeOwned;
use thiserror::Error;
use tokio::sync::{Mutex, oneshot};
use uuid::Uuid;

use crate::notify::{Notification, Push};
use crate::rpc::{
    Account, Changes, CommitArgs, CommitReply, CreateWorkspaceArgs, DeviceToken, GetChangesArgs,
    LoginArgs, LoginReply, Operation, Request, Response, RpcError, WorkspaceInfo,
};
use crate::topology::{DIRECT_REPLY_TO, REQUEST_ROUTING_KEY, Topology};

/// Why a call failed. Broker and timeout errors say what to check.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error(
        "RabbitMQ at {url} failed: {source}. Is the broker running, are the URL and its \
         user's permissions right, and has a metadata server started with the same queue prefix?"
    )]
    Broker {
        url: String,
        #[source]
        source: lapin::Error,
    },
    #[error(
        "no metadata server answered `{operation}` within {timeout:?} ({attempts} attempts). \
         Is nimbus-server running against the same broker and queue prefix?"
    )]
    Timeout {
        operation: &'static str,
        timeout: Duration,
        attempts: u32,
    },
    #[error("the metadata server refused the request: {0}")]
    Rpc(#[from] RpcError),
    #[error("the metadata server sent a reply this client cannot read: {0}")]
    Decode(#[from] serde_json::Error),
}

impl ClientError {
    /// The server's error code, when the server answered with an error.
    pub fn rpc_code(&self) -> Option<crate::rpc::ErrorCode> {
        match self {
            ClientError::Rpc(e) => Some(e.code),
            _ => None,
        }
    }
}

/// Tuning of an [`RpcClient`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// How long to wait for one attempt's reply.
    pub timeout: Duration,
    /// How many times a request is sent before giving up.
    pub attempts: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            attempts: 3,
        }
    }
}

/// How long the broker keeps a notification queue nobody consumes (`x-expires`).
const LISTENER_QUEUE_EXPIRY_MS: u32 = 60_000;

type PendingReplies = Arc<StdMutex<HashMap<String, oneshot::Sender<Vec<u8>>>>>;

/// A cheap-to-clone handle to the metadata RPC.
#[derive(Clone)]
pub struct RpcClient {
    inner: Arc<Inner>,
}

struct Inner {
    amqp_url: String,
    /// The RabbitMQ user of `amqp_url`, stamped on every request as its
    /// `user_id` (which RabbitMQ checks against the connection's user), so
    /// that a server can tell the services' calls from devices'.
    broker_user: Option<String>,
    topology: Topology,
    /// Whether connecting declares the exchanges or only checks they exist.
    declare_exchanges: bool,
    options: ClientOptions,
    link: Mutex<Option<Link>>,
    pending: PendingReplies,
}

/// One live connection with the channel that publishes and receives replies.
struct Link {
    connection: Connection,
    channel: Channel,
}

impl Link {
    fn is_usable(&self) -> bool {
        self.connection.status().connected() && self.channel.status().connected()
    }
}

impl RpcClient {
    /// Connects with a service's credentials (the proxy's, a test's) and
    /// declares the exchanges, so that it may start before any metadata
    /// server. Connects now, so that a wrong URL or a stopped broker shows at
    /// start-up.
    pub async fn connect(
        amqp_url: &str,
        topology: Topology,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        Self::open(amqp_url, topology, options, true).await
    }

    /// Connects as a device, with the restricted credentials the proxy hands
    /// out (`X-Nimbus-Rpc-Url`). They may not declare exchanges, so this only
    /// checks that they exist: a wrong prefix shows at start-up.
    pub async fn connect_device(
        amqp_url: &str,
        topology: Topology,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        Self::open(amqp_url, topology, options, false).await
    }

    async fn open(
        amqp_url: &str,
        topology: Topology,
        options: ClientOptions,
        declare_exchanges: bool,
    ) -> Result<Self, ClientError> {
        let client = Self {
            inner: Arc::new(Inner {
                amqp_url: amqp_url.to_owned(),
                broker_user: broker_user(amqp_url),
                topology,
                declare_exchanges,
                options,
                link: Mutex::new(None),
                pending: Arc::default(),
            }),
        };
        client.channel().await?;
        Ok(client)
    }

    pub fn topology(&self) -> &Topology {
        &self.inner.topology
    }

    /// Calls `operation` with a fresh request id and decodes the reply as `T`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        token: Option<&DeviceToken>,
        operation: Operation,
    ) -> Result<T, ClientError> {
        self.call_with_id(Uuid::new_v4(), token, operation).await
    }

    /// Calls `operation` under a request id the caller chose, e.g. to re-send a
    /// commit after a crash. The trace id is that of the task's
    /// [`crate::trace::scope`], if any.
    pub async fn call_with_id<T: DeserializeOwned>(
        &self,
        request_id: Uuid,
        token: Option<&DeviceToken>,
        operation: Operation,
    ) -> Result<T, ClientError> {
        let name = operation.name();
        let request = Request {
            request_id,
            token: token.cloned(),
            trace_id: crate::trace::current(),
            operation,
        };
        let body = serde_json::to_vec(&request)?;
        match self.send(name, &body).await? {
            Response::Ok(value) => Ok(serde_json::from_value(value)?),
            Response::Error(error) => Err(ClientError::Rpc(error)),
        }
    }

    /// Sends raw bytes as a request and returns the raw reply: for tests of
    /// how servers treat malformed input.
    pub async fn call_raw(&self, body: &[u8]) -> Result<Response, ClientError> {
        self.send("raw", body).await
    }

    pub async fn login(&self, args: LoginArgs) -> Result<LoginReply, ClientError> {
        self.call(None, Operation::Login(args)).await
    }

    pub async fn get_account(&self, token: &DeviceToken) -> Result<Account, ClientError> {
        self.call(Some(token), Operation::GetAccount).await
    }

    pub async fn get_workspaces(
        &self,
        token: &DeviceToken,
    ) -> Result<Vec<WorkspaceInfo>, ClientError> {
        self.call(Some(token), Operation::GetWorkspaces).await
    }

    pub async fn create_workspace(
        &self,
        token: &DeviceToken,
        args: CreateWorkspaceArgs,
    ) -> Result<WorkspaceInfo, ClientError> {
        self.call(Some(token), Operation::CreateWorkspace(args))
            .await
    }

    pub async fn get_changes(
        &self,
        token: &DeviceToken,
        args: GetChangesArgs,
    ) -> Result<Changes, ClientError> {
        self.call(Some(token), Operation::GetChanges(args)).await
    }

    pub async fn commit(
        &self,
        token: &DeviceToken,
        request_id: Uuid,
        args: CommitArgs,
    ) -> Result<CommitReply, ClientError> {
        self.call_with_id(request_id, Some(token), Operation::Commit(args))
            .await
    }

    pub async fn logout(&self, token: &DeviceToken) -> Result<(), ClientError> {
        self.call(Some(token), Operation::Logout).await
    }

    /// Subscribes the device of `token` to the push notifications of its
    /// user's workspaces and of the user.
    ///
    /// The listener declares its own server-named queue and has a metadata
    /// server bind it (`subscribe`): the server, not the client, decides which
    /// routing keys a device may hear. The queue is not exclusive, since the
    /// server's connection binds it, but it is deleted with its consumer
    /// (auto-delete) and, should the consumer never start, after a minute.
    /// When the listener reports an error the caller subscribes again (also
    /// to hear workspaces it joined since) and catches up with `getChanges`.
    pub async fn listen(&self, token: &DeviceToken) -> Result<NotificationListener, ClientError> {
        let channel = self.channel().await?;
        let broker = |source| ClientError::Broker {
            url: redact_url(&self.inner.amqp_url),
            source,
        };
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-expires".into(),
            AMQPValue::LongUInt(LISTENER_QUEUE_EXPIRY_MS),
        );
        let queue = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    auto_delete: true,
                    ..Default::default()
                },
                arguments,
            )
            .await
            .map_err(broker)?;
        // Consuming first makes auto-delete apply: a failed subscription
        // drops the consumer below, and the broker deletes the queue.
        let consumer = channel
            .basic_consume(
                queue.name().clone(),
                "".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(broker)?;
        let queue = queue.name().to_string();
        self.call::<()>(Some(token), Operation::Subscribe { queue })
            .await?;
        Ok(NotificationListener { consumer })
    }

    async fn send(&self, operation: &'static str, body: &[u8]) -> Result<Response, ClientError> {
        let options = &self.inner.options;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send_once(body).await {
                Ok(Some(reply)) => return Ok(serde_json::from_slice(&reply)?),
                Ok(None) if attempt >= options.attempts => {
                    return Err(ClientError::Timeout {
                        operation,
                        timeout: options.timeout,
                        attempts: attempt,
                    });
                }
                Err(error) if attempt >= options.attempts => return Err(error),
                Ok(None) => tracing::warn!(operation, attempt, "no reply in time; re-sending"),
                Err(error) => {
                    tracing::warn!(operation, attempt, %error, "broker error; reconnecting");
                    *self.inner.link.lock().await = None;
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
            }
        }
    }

    /// One attempt: `Ok(None)` when the reply did not come in time.
    async fn send_once(&self, body: &[u8]) -> Result<Option<Vec<u8>>, ClientError> {
        let channel = self.channel().await?;
        let correlation_id = Uuid::new_v4().to_string();
        let (sender, receiver) = oneshot::channel();
        self.inner
            .pending
            .lock()
            .expect("reply table poisoned")
            .insert(correlation_id.clone(), sender);
        let mut properties = BasicProperties::default();
        if let Some(user) = &self.inner.broker_user {
            properties = properties.with_user_id(user.as_str().into());
        }
        let properties = properties
            .with_reply_to(DIRECT_REPLY_TO.into())
            .with_correlation_id(correlation_id.as_str().into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2)
            // A request nobody took in time is dropped by the broker instead
            // of being worked on after its caller has given up (and re-sent it).
            .with_expiration(self.inner.options.timeout.as_millis().to_string().into());
        let published = channel
            .basic_publish(
                self.inner.topology.rpc_exchange().into(),
                REQUEST_ROUTING_KEY.into(),
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await;
        if let Err(source) = published {
            self.forget(&correlation_id);
            return Err(ClientError::Broker {
                url: redact_url(&self.inner.amqp_url),
                source,
            });
        }
        match tokio::time::timeout(self.inner.options.timeout, receiver).await {
            Ok(Ok(reply)) => Ok(Some(reply)),
            // The reply consumer died with the connection: reconnect and resend.
            Ok(Err(_)) => {
                *self.inner.link.lock().await = None;
                Ok(None)
            }
            Err(_) => {
                self.forget(&correlation_id);
                Ok(None)
            }
        }
    }

    fn forget(&self, correlation_id: &str) {
        self.inner
            .pending
            .lock()
            .expect("reply table poisoned")
            .remove(correlation_id);
    }

    /// Whether the broker can be reached now: the live connection, or a new
    /// one when the previous one broke (what the next call would do).
    pub async fn check_connection(&self) -> Result<(), ClientError> {
        self.channel().await.map(drop)
    }

    /// The live channel, reconnecting when the previous one broke.
    async fn channel(&self) -> Result<Channel, ClientError> {
        let mut link = self.inner.link.lock().await;
        if let Some(live) = link.as_ref().filter(|l| l.is_usable()) {
            return Ok(live.channel.clone());
        }
        let fresh = self
            .open_link()
            .await
            .map_err(|source| ClientError::Broker {
                url: redact_url(&self.inner.amqp_url),
                source,
            })?;
        let channel = fresh.channel.clone();
        *link = Some(fresh);
        Ok(channel)
    }

    async fn open_link(&self) -> lapin::Result<Link> {
        let connection =
            Connection::connect(&self.inner.amqp_url, ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        let declare = ExchangeDeclareOptions {
            durable: true,
            // A passive declaration needs no permission.
            passive: !self.inner.declare_exchanges,
            ..Default::default()
        };
        let topology = &self.inner.topology;
        for (name, kind) in [
            (topology.rpc_exchange(), ExchangeKind::Direct),
            (topology.notify_exchange(), ExchangeKind::Topic),
        ] {
            channel
                .exchange_declare(name.into(), kind, declare, FieldTable::default())
                .await?;
        }
        // Direct reply-to: consume the pseudo-queue on the publishing channel
        // before the first publish.
        let replies = channel
            .basic_consume(
                DIRECT_REPLY_TO.into(),
                "".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        tokio::spawn(route_replies(replies, self.inner.pending.clone()));
        Ok(Link {
            connection,
            channel,
        })
    }
}

/// Hands each reply to the call waiting for its correlation id. Ends with the
/// channel; waiting calls then see their sender dropped and retry.
async fn route_replies(mut replies: Consumer, pending: PendingReplies) {
    while let Some(Ok(delivery)) = replies.next().await {
        let Some(correlation_id) = delivery.properties.correlation_id() else {
            continue;
        };
        let waiter = pending
            .lock()
            .expect("reply table poisoned")
            .remove(correlation_id.as_str());
        if let Some(waiter) = waiter {
            let _ = waiter.send(delivery.data);
        }
    }
    // Wake every waiter of this connection so they retry on a new one.
    pending.lock().expect("reply table poisoned").clear();
}

/// Push notifications of the workspaces and users a device subscribed to.
pub struct NotificationListener {
    consumer: Consumer,
}

impl NotificationListener {
    /// The next commit notification; `None` when the connection is gone
    /// (subscribe again and catch up by cursor). User events are passed over
    /// (see [`Self::next_push`]); malformed messages are skipped.
    pub async fn next(&mut self) -> Option<Notification> {
        loop {
            if let Push::Commit(notification) = self.next_push().await? {
                return Some(notification);
            }
        }
    }

    /// The next message of either kind: a commit notification or a user
    /// event (sharing). `None` when the connection is gone. Malformed
    /// messages, and events of kinds newer than this client, are skipped.
    pub async fn next_push(&mut self) -> Option<Push> {
        loop {
            let delivery = self.consumer.next().await?.ok()?;
            match serde_json::from_slice(&delivery.data) {
                Ok(push) => return Some(push),
                Err(error) => tracing::warn!(%error, "skipping a malformed notification"),
            }
        }
    }
}

/// The RabbitMQ user an AMQP URL connects as (`guest` when it names none);
/// `None` when the URL cannot be parsed (connecting then fails anyway).
pub fn broker_user(amqp_url: &str) -> Option<String> {
    amqp_url
        .parse::<lapin::uri::AMQPUri>()
        .ok()
        .map(|uri| uri.authority.userinfo.username)
}

/// The URL without its password, for error messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_hidden_in_urls() {
        assert_eq!(
            redact_url("amqp://guest:secret@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(redact_url("amqp://127.0.0.1"), "amqp://127.0.0.1");
    }
}
