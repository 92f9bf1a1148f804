//! The AMQP side of a metadata server: declares the topology, consumes the
//! request queue, and answers.
//!
//! Delivery guarantees:
//! * a request is acked only after its answer is durable and published, so a
//!   server killed at any point loses nothing: the broker redelivers its
//!   un-acked requests to another server (commits are idempotent);
//! * a message that cannot be parsed is rejected to the dead-letter queue
//!   (and answered with an error when it names a reply address); requests
//!   that expired unanswered (their caller gave up and re-sent them) land
//!   there too, and the queue keeps the newest 10,000;
//! * a request that fails because the database is down goes back to the queue
//!   after a pause, for this or another server to retry;
//! * a lost broker connection is re-established with backoff;
//! * on shutdown the server stops consuming, finishes the requests in flight,
//!   and only then closes the connection; every step of that is bounded
//!   ([`DRAIN_DEADLINE`], [`BROKER_GOODBYE_TIMEOUT`]), so a broker that stopped
//!   answering cannot keep a stopping server alive. A request abandoned
//!   unacknowledged is redelivered, as after a crash.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions,
    BasicPublishOptions, BasicQosOptions, BasicRejectOptions, ExchangeDeclareOptions,
    QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer, ExchangeKind};
use nimbus_protocol::Topology;
use nimbus_protocol::client::{broker_user, redact_url};
use nimbus_protocol::notify::{Notification, UserEvent, WorkspaceEvent};
use nimbus_protocol::rpc::{ErrorCode, Request, Response, RpcError};
use nimbus_protocol::topology::REQUEST_ROUTING_KEY;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::config::{QueueType, Settings};
use crate::rpc::{self, ServerState};

/// How long a request that hit an unavailable database waits before it goes
/// back to the queue.
const RETRY_PAUSE: Duration = Duration::from_secs(1);
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(10);
/// How many dead-lettered requests the dead-letter queue keeps.
const DEAD_LETTERS_KEPT: u32 = 10_000;
/// How long a stopping server lets the requests in flight finish. Shorter than
/// the 15 s the scripts wait before they give up on a stop, so that a request
/// stuck on an unresponsive broker costs a redelivery, not a SIGKILL.
const DRAIN_DEADLINE: Duration = Duration::from_secs(8);
/// How long a stopping server waits for the broker to confirm the consumer's
/// cancel and the connection's close.
const BROKER_GOODBYE_TIMEOUT: Duration = Duration::from_secs(2);

pub struct BrokerSettings {
    pub amqp_url: String,
    pub topology: Topology,
    pub queue_type: QueueType,
    pub prefetch: u16,
    pub idle_queue_expiry_secs: Option<u32>,
}

impl From<&Settings> for BrokerSettings {
    fn from(settings: &Settings) -> Self {
        Self {
            amqp_url: settings.amqp_url.clone(),
            topology: Topology::new(settings.queue_prefix.clone()),
            queue_type: settings.queue_type,
            prefetch: settings.prefetch,
            idle_queue_expiry_secs: settings.idle_queue_expiry_secs,
        }
    }
}

/// A live connection: requests arrive on `consumer`, answers leave on `publisher`.
struct Session {
    /// Shared with the requests in flight, for those that open channels of
    /// their own (`subscribe`).
    connection: Arc<Connection>,
    consume_channel: Channel,
    consumer: Consumer,
    consumer_tag: String,
    publisher: Channel,
}

/// Serves requests until `shutdown` is cancelled.
pub async fn run(
    settings: BrokerSettings,
    state: Arc<ServerState>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let tracker = TaskTracker::new();
    let mut delay = Duration::from_millis(100);
    let url = redact_url(&settings.amqp_url);
    let service_user = broker_user(&settings.amqp_url);
    'serving: loop {
        let session = tokio::select! {
            session = open_session(&settings) => session,
            () = shutdown.cancelled() => break 'serving,
        };
        let mut session = match session {
            Ok(session) => session,
            Err(error) => {
                tracing::warn!(%url, %error, retry_in = ?delay, "cannot reach RabbitMQ");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shutdown.cancelled() => break 'serving,
                }
                delay = (delay * 2).min(MAX_RECONNECT_DELAY);
                continue;
            }
        };
        delay = Duration::from_millis(100);
        state.broker_connected.store(true, Ordering::Relaxed);
        tracing::info!(%url, queue = %settings.topology.rpc_queue(), "serving requests");
        loop {
            tokio::select! {
                () = shutdown.cancelled() => {
                    state.broker_connected.store(false, Ordering::Relaxed);
                    // No new deliveries; those prefetched but not started go back
                    // to the queue when the channel closes.
                    let cancel = session
                        .consume_channel
                        .basic_cancel(session.consumer_tag.as_str().into(), BasicCancelOptions::default());
                    stop_step("cancelling the request consumer", BROKER_GOODBYE_TIMEOUT, cancel).await;
                    finish_in_flight(&tracker).await;
                    let close = session.connection.close(200, "shutting down".into());
                    stop_step("closing the broker connection", BROKER_GOODBYE_TIMEOUT, close).await;
                    break 'serving;
                }
                next = session.consumer.next() => match next {
                    Some(Ok(delivery)) => {
                        let state = state.clone();
                        let publisher = session.publisher.clone();
                        let connection = session.connection.clone();
                        let topology = settings.topology.clone();
                        let service_user = service_user.clone();
                        tracker.spawn(async move {
                            let amqp = rpc::Amqp {
                                connection: &connection,
                                topology: &topology,
                                service_user: service_user.as_deref(),
                            };
                            handle_delivery(&state, &publisher, &amqp, delivery).await;
                        });
                    }
                    Some(Err(error)) => {
                        state.broker_connected.store(false, Ordering::Relaxed);
                        tracing::warn!(%error, "lost the RabbitMQ connection; reconnecting");
                        break;
                    }
                    None => {
                        state.broker_connected.store(false, Ordering::Relaxed);
                        tracing::warn!("the broker closed the request consumer; reconnecting");
                        break;
                    }
                },
            }
        }
    }
    finish_in_flight(&tracker).await;
    tracing::info!(
        requests = state.requests_handled.load(Ordering::Relaxed),
        "stopped"
    );
    Ok(())
}

/// Waits, up to [`DRAIN_DEADLINE`], for the requests in flight.
async fn finish_in_flight(tracker: &TaskTracker) {
    tracker.close();
    let in_flight = tracker.len();
    if in_flight > 0 {
        tracing::info!(in_flight, "finishing the requests in flight");
    }
    stop_step(
        "finishing the requests in flight",
        DRAIN_DEADLINE,
        tracker.wait(),
    )
    .await;
}

/// One step of a stop, given up after `limit` (its outcome does not matter
/// any more: the server is going away either way).
async fn stop_step<T>(step: &str, limit: Duration, work: impl Future<Output = T>) {
    if tokio::time::timeout(limit, work).await.is_err() {
        tracing::warn!(step, ?limit, "gave up waiting while stopping");
    }
}

async fn open_session(settings: &BrokerSettings) -> lapin::Result<Session> {
    let connection = Connection::connect(
        &settings.amqp_url,
        ConnectionProperties::default()
            .with_connection_name(format!("nimbus-server {}", settings.topology.prefix()).into()),
    )
    .await?;
    let consume_channel = connection.create_channel().await?;
    declare_topology(&consume_channel, settings).await?;
    consume_channel
        .basic_qos(settings.prefetch, BasicQosOptions::default())
        .await?;
    let consumer = consume_channel
        .basic_consume(
            settings.topology.rpc_queue().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let consumer_tag = consumer.tag().to_string();
    let publisher = connection.create_channel().await?;
    Ok(Session {
        connection: Arc::new(connection),
        consume_channel,
        consumer,
        consumer_tag,
        publisher,
    })
}

/// Declares every exchange and queue (idempotent; all servers do it).
pub async fn declare_topology(channel: &Channel, settings: &BrokerSettings) -> lapin::Result<()> {
    let topology = &settings.topology;
    let durable_exchange = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let durable_queue = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    for (name, kind) in [
        (topology.rpc_exchange(), ExchangeKind::Direct),
        (topology.dead_letter_exchange(), ExchangeKind::Fanout),
        (topology.notify_exchange(), ExchangeKind::Topic),
    ] {
        channel
            .exchange_declare(name.into(), kind, durable_exchange, FieldTable::default())
            .await?;
    }
    let mut queue_arguments = FieldTable::default();
    if settings.queue_type == QueueType::Quorum {
        queue_arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
    }
    if let Some(secs) = settings.idle_queue_expiry_secs {
        queue_arguments.insert(
            "x-expires".into(),
            AMQPValue::LongUInt(secs.saturating_mul(1000)),
        );
    }
    // Expired requests are dead-lettered too; keep the newest ones only.
    let mut dead_arguments = queue_arguments.clone();
    dead_arguments.insert(
        "x-max-length".into(),
        AMQPValue::LongUInt(DEAD_LETTERS_KEPT),
    );
    channel
        .queue_declare(
            topology.dead_letter_queue().into(),
            durable_queue,
            dead_arguments,
        )
        .await?;
    channel
        .queue_bind(
            topology.dead_letter_queue().into(),
            topology.dead_letter_exchange().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    queue_arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(topology.dead_letter_exchange().into()),
    );
    channel
        .queue_declare(topology.rpc_queue().into(), durable_queue, queue_arguments)
        .await?;
    channel
        .queue_bind(
            topology.rpc_queue().into(),
            topology.rpc_exchange().into(),
            REQUEST_ROUTING_KEY.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

async fn handle_delivery(
    state: &ServerState,
    publisher: &Channel,
    amqp: &rpc::Amqp<'_>,
    delivery: Delivery,
) {
    let reply_to = delivery
        .properties
        .reply_to()
        .as_ref()
        .map(|r| r.to_string());
    let correlation_id = delivery.properties.correlation_id().clone();
    let request: Request = match serde_json::from_slice(&delivery.data) {
        Ok(request) => request,
        Err(error) => {
            tracing::warn!(%error, bytes = delivery.data.len(), "dead-lettering an unparseable request");
            if let Some(reply_to) = &reply_to {
                let refusal = Response::Error(RpcError::new(
                    ErrorCode::BadRequest,
                    format!("the request cannot be parsed: {error}"),
                ));
                publish_reply(publisher, reply_to, correlation_id, &refusal).await;
            }
            if let Err(error) = delivery.reject(BasicRejectOptions { requeue: false }).await {
                tracing::warn!(%error, "could not reject a request");
            }
            return;
        }
    };

    // Every line logged while serving the request carries its trace id.
    let span = tracing::info_span!(
        "rpc",
        trace_id = tracing::field::Empty,
        operation = request.operation.name()
    );
    if let Some(trace_id) = &request.trace_id {
        span.record("trace_id", tracing::field::display(trace_id));
    }
    serve(
        state,
        publisher,
        amqp,
        delivery,
        request,
        reply_to,
        correlation_id,
    )
    .instrument(span)
    .await;
}

/// Answers a parsed request and acks it, or requeues it when the database
/// is unavailable.
async fn serve(
    state: &ServerState,
    publisher: &Channel,
    amqp: &rpc::Amqp<'_>,
    delivery: Delivery,
    request: Request,
    reply_to: Option<String>,
    correlation_id: Option<lapin::types::ShortString>,
) {
    let operation = request.operation.name();
    let request_id = request.request_id;
    state.requests_handled.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let sender = delivery
        .properties
        .user_id()
        .as_ref()
        .map(|user| user.as_str());
    let response = match rpc::dispatch(state, amqp, sender, request).await {
        Ok(reply) => {
            if let Some(notification) = &reply.notification {
                publish_notification(publisher, amqp.topology, notification).await;
            }
            for (user_id, event) in &reply.user_events {
                publish_user_event(publisher, amqp.topology, *user_id, event).await;
            }
            if let Some(event) = &reply.workspace_event {
                publish_workspace_event(publisher, amqp.topology, event).await;
            }
            Response::Ok(reply.body)
        }
        Err(error) if error.is_transient() => {
            tracing::warn!(operation, %request_id, %error, "database unavailable; requeueing the request");
            state
                .metrics
                .observe_request(operation, "requeued", started.elapsed());
            tokio::time::sleep(RETRY_PAUSE).await;
            if let Err(error) = delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    multiple: false,
                })
                .await
            {
                tracing::warn!(%error, "could not requeue a request; the broker will redeliver it");
            }
            return;
        }
        Err(error) => {
            let refusal = error.to_rpc();
            // Unavailable here is the broker's failure: the database's was requeued above.
            if matches!(refusal.code, ErrorCode::Internal | ErrorCode::Unavailable) {
                tracing::error!(operation, %request_id, error = ?error, "request failed");
            }
            Response::Error(refusal)
        }
    };
    match &reply_to {
        Some(reply_to) => publish_reply(publisher, reply_to, correlation_id, &response).await,
        None => tracing::warn!(operation, %request_id, "request without reply_to; answer dropped"),
    }
    if let Err(error) = delivery.ack(BasicAckOptions::default()).await {
        // The broker redelivers it; idempotency makes that harmless.
        tracing::warn!(%error, operation, %request_id, "could not ack a request");
    }
    let outcome = match &response {
        Response::Ok(_) => "ok",
        Response::Error(e) => error_code_name(e.code),
    };
    state
        .metrics
        .observe_request(operation, outcome, started.elapsed());
    tracing::info!(
        operation,
        %request_id,
        outcome,
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
}

fn error_code_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::BadRequest => "bad_request",
        ErrorCode::Unauthenticated => "unauthenticated",
        ErrorCode::InvalidCredentials => "invalid_credentials",
        ErrorCode::TooManyAttempts => "too_many_attempts",
        ErrorCode::TooManyRequests => "too_many_requests",
        ErrorCode::AccountDisabled => "account_disabled",
        ErrorCode::Forbidden => "forbidden",
        ErrorCode::QuotaExceeded => "quota_exceeded",
        ErrorCode::OwnerQuotaExceeded => "owner_quota_exceeded",
        ErrorCode::RequestIdReused => "request_id_reused",
        ErrorCode::ContentMissing => "content_missing",
        ErrorCode::Unavailable => "unavailable",
        ErrorCode::Internal => "internal",
    }
}

async fn publish_reply(
    publisher: &Channel,
    reply_to: &str,
    correlation_id: Option<lapin::types::ShortString>,
    response: &Response,
) {
    let body = match serde_json::to_vec(response) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "cannot encode a reply");
            return;
        }
    };
    let mut properties = BasicProperties::default().with_content_type("application/json".into());
    if let Some(correlation_id) = correlation_id {
        properties = properties.with_correlation_id(correlation_id);
    }
    if let Err(error) = publisher
        .basic_publish(
            "".into(),
            reply_to.into(),
            BasicPublishOptions::default(),
            &body,
            properties,
        )
        .await
    {
        tracing::warn!(%error, "could not publish a reply; the caller will retry");
    }
}

async fn publish_notification(
    publisher: &Channel,
    topology: &Topology,
    notification: &Notification,
) {
    let key = Topology::workspace_key(notification.workspace_id);
    if let Err(error) = publish_push(publisher, topology, key, notification).await {
        // Devices also catch up by cursor when they reconnect.
        tracing::warn!(%error, workspace_id = %notification.workspace_id, "could not publish a notification");
    }
}

/// Publishes a sharing event on the user's key: their devices hear it, and
/// every proxy, which drops its cached identities of the user on `access`.
async fn publish_user_event(
    publisher: &Channel,
    topology: &Topology,
    user_id: uuid::Uuid,
    event: &UserEvent,
) {
    if let Err(error) = publish_push(publisher, topology, Topology::user_key(user_id), event).await
    {
        // Devices also learn it from getWorkspaces and listProposals; a
        // proxy whose consumer is cut off drops its whole cache on reconnect.
        tracing::warn!(%error, %user_id, "could not publish a user event");
    }
}

/// Publishes an event on its workspace's key, for every member's devices.
async fn publish_workspace_event(publisher: &Channel, topology: &Topology, event: &WorkspaceEvent) {
    let WorkspaceEvent::ContentMissing { workspace_id, .. } = event;
    let key = Topology::workspace_key(*workspace_id);
    if let Err(error) = publish_push(publisher, topology, key, event).await {
        // The reporting device reports again when its next attempt fails.
        tracing::warn!(%error, %workspace_id, "could not publish a workspace event");
    }
}

async fn publish_push(
    publisher: &Channel,
    topology: &Topology,
    routing_key: String,
    push: &impl serde::Serialize,
) -> Result<(), lapin::Error> {
    let body = serde_json::to_vec(push).expect("a push message always encodes");
    publisher
        .basic_publish(
            topology.notify_exchange().into(),
            routing_key.into(),
            BasicPublishOptions::default(),
            &body,
            BasicProperties::default().with_content_type("application/json".into()),
        )
        .await
        .map(drop)
}
