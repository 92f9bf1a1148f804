//! `GET /files/{workspace}/events`: live updates of an open folder page, as
//! server-sent events (`web/static/live.js` listens and refreshes the list);
//! `GET /events`: the same stream without a workspace, for every other page.
//! Both tell the page when the user's invitations changed (a `proposal`
//! event of theirs, or an `access` one when they accepted one), so that
//! the navigation's badge follows at once. The user's own stream also says
//! when their workspaces changed (one joined, left, unshared or removed, a
//! role or a mount changed), so that the workspaces list follows.
//!
//! Each browser session is a device, so the proxy listens on its behalf as a
//! desktop client does: it declares a server-named queue on its own broker
//! connection and has a metadata server bind it (`subscribe`) with the
//! session's token. The server decides what the queue hears (the workspaces
//! of the session's user), never the browser. One stream is one queue and
//! one consumer; when the browser goes, actix drops the response body, which
//! drops the consumer, which cancels it, and the broker deletes the
//! auto-delete queue. A session may hold [`MAX_STREAMS_PER_SESSION`] open
//! streams (a tab each); more are refused with `429`.
//!
//! Events carry the workspace revision as their id and nothing else (names
//! stay behind the authorized page). A browser that reconnects sends the
//! last id it saw (`Last-Event-ID`), or the page its revision (`?since=`);
//! the stream first compares it with the workspace's revision, read with
//! `getChanges` after subscribing so that nothing committed in between is
//! missed, and announces the difference at once.
//!
//! The stream ends, with an `end` event saying why, when the session is
//! revoked or expires or the user's access to the workspace ends (or a
//! periodic `getAccount` finds the session gone); it also
//! ends when the broker drops the queue (a revoked device's queues are
//! deleted), after which the browser's reconnection is refused like any
//! request of a dead session.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use futures::stream::{self, Stream, StreamExt};
use nimbus_protocol::NotificationListener;
use nimbus_protocol::notify::{Push, UserEvent};
use nimbus_protocol::rpc::{DeviceToken, ErrorCode, Revision};
use serde::Deserialize;
use uuid::Uuid;

use super::browse::find_workspace;
use super::error::WebError;
use super::session::WebSession;
use crate::state::RestState;

/// Open streams one session may hold. Browsers allow six HTTP/1.1
/// connections per site, so more live tabs would starve the pages' own
/// requests anyway.
pub const MAX_STREAMS_PER_SESSION: usize = 16;
/// How often an idle stream sends a comment. actix notices a browser that
/// has gone only when a write fails, so this bounds how long a gone
/// browser's consumer lives (two writes: the first only draws the reset).
const KEEPALIVE: Duration = Duration::from_secs(5);
/// How often an idle stream checks that its session still lives (revoking
/// and expiry end it at once; this catches what no event announces, such
/// as a disabled account).
const SESSION_CHECK: Duration = Duration::from_secs(30);
/// How long a browser waits before reconnecting a lost stream.
const RECONNECT_AFTER_MS: u64 = 1000;

/// The number of open streams of each session (by its device id).
#[derive(Debug, Default, Clone)]
pub struct LiveStreams {
    open: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl LiveStreams {
    /// A slot for one more stream of `device`, or `None` at the limit.
    fn acquire(&self, device: Uuid) -> Option<StreamSlot> {
        let mut open = self.open.lock().expect("live stream table poisoned");
        let count = open.entry(device).or_default();
        if *count >= MAX_STREAMS_PER_SESSION {
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            streams: self.clone(),
            device,
        })
    }

    /// Streams open now for `device`.
    pub fn open_for(&self, device: Uuid) -> usize {
        let open = self.open.lock().expect("live stream table poisoned");
        open.get(&device).copied().unwrap_or_default()
    }
}

/// One open stream, given back when dropped with the response body.
struct StreamSlot {
    streams: LiveStreams,
    device: Uuid,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self
            .streams
            .open
            .lock()
            .expect("live stream table poisoned");
        if let Some(count) = open.get_mut(&self.device) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.device);
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct LiveQuery {
    /// The revision the page was rendered at.
    since: Option<Revision>,
}

/// What the browser last saw: `Last-Event-ID` on a reconnection, else the
/// page's `since`.
fn last_seen(req: &HttpRequest, query: &LiveQuery) -> Result<Option<Revision>, WebError> {
    match req.headers().get("last-event-id") {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .map(Some)
            .ok_or_else(|| WebError::BadRequest("Last-Event-ID must be a revision number".into())),
        None => Ok(query.since),
    }
}

/// `GET /files/{workspace}/events`.
pub async fn events(
    session: WebSession,
    path: web::Path<String>,
    query: web::Query<LiveQuery>,
    req: HttpRequest,
    state: web::Data<RestState>,
    streams: web::Data<LiveStreams>,
) -> Result<HttpResponse, WebError> {
    let since = last_seen(&req, &query)?;
    let workspace = find_workspace(&state, &session, &path, req.path()).await?;
    let mut live = Live::open(session, &req, state, &streams).await?;
    // Read after subscribing: a commit made since is in this revision or
    // will be heard.
    let tree = live
        .state
        .trees
        .load(&live.state.rpc, &live.token, workspace.workspace_id)
        .await?;
    live.workspace_id = Some(workspace.workspace_id);
    live.last = tree.revision;
    let first = if since.is_some_and(|seen| seen < tree.revision) {
        Event::Change(tree.revision)
    } else {
        Event::Ready(Some(tree.revision))
    };
    Ok(live.respond(first))
}

/// `GET /events`: the stream of a page that shows no workspace, which
/// tells it when the user's invitations change. The page asks for the
/// badge again when the browser reconnects, so nothing missed meanwhile
/// is lost.
pub async fn user_events(
    session: WebSession,
    req: HttpRequest,
    state: web::Data<RestState>,
    streams: web::Data<LiveStreams>,
) -> Result<HttpResponse, WebError> {
    let live = Live::open(session, &req, state, &streams).await?;
    Ok(live.respond(Event::Ready(None)))
}

/// What the stream sends.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    /// Connected; nothing changed since what the browser saw (the
    /// workspace's revision, on a workspace's stream).
    Ready(Option<Revision>),
    /// The workspace is at this revision: refresh.
    Change(Revision),
    /// The user's invitations changed: count them again. No id, so that
    /// the browser's `Last-Event-ID` stays the workspace's revision.
    Invitations,
    /// The user's workspaces changed (on the user's own stream): list them
    /// again, and count the invitations again (accepting one is this too).
    Workspaces,
    /// Nothing to say; keeps the connection (and its check) alive.
    KeepAlive,
    /// The stream ends, for this reason.
    End(&'static str),
}

impl Event {
    fn encode(&self) -> String {
        match self {
            Event::Ready(Some(revision)) => {
                format!("id: {revision}\nevent: ready\ndata: {{\"revision\":{revision}}}\n\n")
            }
            Event::Ready(None) => "event: ready\ndata: {}\n\n".into(),
            Event::Invitations => "event: invitations\ndata: {}\n\n".into(),
            Event::Workspaces => "event: workspaces\ndata: {}\n\n".into(),
            Event::Change(revision) => {
                format!("id: {revision}\nevent: change\ndata: {{\"revision\":{revision}}}\n\n")
            }
            Event::KeepAlive => ": keep-alive\n\n".into(),
            Event::End(reason) => format!("event: end\ndata: {reason}\n\n"),
        }
    }
}

/// One open stream: its consumer, whose session it serves, what it sent.
struct Live {
    listener: NotificationListener,
    state: web::Data<RestState>,
    token: DeviceToken,
    user_id: Uuid,
    device_id: Uuid,
    /// The workspace whose commits the stream announces; `None`: none.
    workspace_id: Option<Uuid>,
    /// The last revision announced.
    last: Revision,
    expires: Option<tokio::time::Instant>,
    /// When the session was last checked.
    checked: tokio::time::Instant,
    _slot: StreamSlot,
}

impl Live {
    /// A stream of the session's, subscribed to what its user may hear, or
    /// a refusal when the session holds [`MAX_STREAMS_PER_SESSION`].
    async fn open(
        session: WebSession,
        req: &HttpRequest,
        state: web::Data<RestState>,
        streams: &LiveStreams,
    ) -> Result<Self, WebError> {
        let slot = streams.acquire(session.account.device_id).ok_or_else(|| {
            WebError::TooManyRequests(format!(
                "this session already has {MAX_STREAMS_PER_SESSION} live pages open; \
                 close a tab, and this page will show changes when reloaded"
            ))
        })?;
        let listener = state
            .rpc
            .listen(&session.token)
            .await
            .map_err(|e| WebError::from_rpc(e, req.path()))?;
        let expires = session.account.token_expires_at.map(|at| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis();
            let left = u64::try_from(i128::from(at) - now as i128).unwrap_or(0);
            tokio::time::Instant::now() + Duration::from_millis(left)
        });
        Ok(Live {
            listener,
            state,
            token: session.token,
            user_id: session.account.user_id,
            device_id: session.account.device_id,
            workspace_id: None,
            last: 0,
            expires,
            checked: tokio::time::Instant::now(),
            _slot: slot,
        })
    }

    /// The response: `first`, then the stream's events.
    fn respond(self, first: Event) -> HttpResponse {
        let opening = format!("retry: {RECONNECT_AFTER_MS}\n{}", first.encode());
        HttpResponse::Ok()
            .content_type("text/event-stream")
            // Proxies in front must pass each event on as it comes.
            .insert_header(("x-accel-buffering", "no"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .streaming(
                stream::once(async { Ok::<_, Infallible>(Bytes::from(opening)) })
                    .chain(self.into_stream()),
            )
    }

    fn into_stream(self) -> impl Stream<Item = Result<Bytes, Infallible>> {
        stream::unfold(Some(self), |live| async move {
            let mut live = live?;
            let event = live.next_event().await?;
            let ended = matches!(event, Event::End(_));
            Some((Ok(Bytes::from(event.encode())), (!ended).then_some(live)))
        })
    }

    /// The next event; `None` when the broker dropped the queue (a revoked
    /// session's are deleted) or the connection: the browser reconnects and
    /// catches up, or is refused.
    async fn next_event(&mut self) -> Option<Event> {
        let keepalive = tokio::time::sleep(KEEPALIVE);
        let expires = self.expires;
        let expiry = async move {
            match expires {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(keepalive, expiry);
        loop {
            tokio::select! {
                push = self.listener.next_push() => {
                    if let Some(event) = self.on_push(push?) {
                        return Some(event);
                    }
                }
                () = &mut keepalive => return Some(self.keep_alive().await),
                () = &mut expiry => return Some(Event::End("your session has expired")),
            }
        }
    }

    fn on_push(&mut self, push: Push) -> Option<Event> {
        match push {
            Push::Commit(commit)
                if Some(commit.workspace_id) == self.workspace_id
                    && commit.revision > self.last =>
            {
                self.last = commit.revision;
                Some(Event::Change(commit.revision))
            }
            Push::User(UserEvent::Access {
                user_id,
                workspace_id,
                role,
            }) if user_id == self.user_id && Some(workspace_id) == self.workspace_id => {
                Some(match role {
                    None => Event::End("your access to this workspace has ended"),
                    // What the page offers (changing or only viewing) changed.
                    Some(_) => Event::Change(self.last),
                })
            }
            // A page of no workspace lists the user's workspaces.
            Push::User(UserEvent::Access { user_id, .. })
                if user_id == self.user_id && self.workspace_id.is_none() =>
            {
                Some(Event::Workspaces)
            }
            Push::User(UserEvent::Mount { .. }) if self.workspace_id.is_none() => {
                Some(Event::Workspaces)
            }
            // An invitation made, answered or withdrawn; or one accepted
            // (the invitee hears their new access, not the proposal).
            Push::User(UserEvent::Proposal { .. }) => Some(Event::Invitations),
            Push::User(UserEvent::Access {
                user_id,
                role: Some(_),
                ..
            }) if user_id == self.user_id => Some(Event::Invitations),
            Push::User(UserEvent::DeviceRevoked { device_id }) if device_id == self.device_id => {
                Some(Event::End("this session has ended"))
            }
            _ => None,
        }
    }

    async fn keep_alive(&mut self) -> Event {
        if self.checked.elapsed() < SESSION_CHECK {
            return Event::KeepAlive;
        }
        self.checked = tokio::time::Instant::now();
        match self.state.rpc.get_account(&self.token).await {
            Err(error) if error.rpc_code() == Some(ErrorCode::Unauthenticated) => {
                Event::End("this session has ended")
            }
            // A passing failure of the servers is no reason to drop the page.
            _ => Event::KeepAlive,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_the_revision_as_their_id() {
        assert_eq!(
            Event::Change(42).encode(),
            "id: 42\nevent: change\ndata: {\"revision\":42}\n\n"
        );
        assert!(
            Event::Ready(Some(7))
                .encode()
                .starts_with("id: 7\nevent: ready\n")
        );
        assert!(!Event::Ready(None).encode().contains("id:"));
        assert_eq!(
            Event::Invitations.encode(),
            "event: invitations\ndata: {}\n\n",
            "no id: the browser's Last-Event-ID stays a revision"
        );
        assert_eq!(
            Event::Workspaces.encode(),
            "event: workspaces\ndata: {}\n\n"
        );
        assert!(Event::KeepAlive.encode().starts_with(':'));
        assert_eq!(Event::End("gone").encode(), "event: end\ndata: gone\n\n");
    }

    #[test]
    fn a_session_holds_a_bounded_number_of_streams_given_back_when_dropped() {
        let streams = LiveStreams::default();
        let device = Uuid::now_v7();
        let slots: Vec<StreamSlot> = (0..MAX_STREAMS_PER_SESSION)
            .map(|_| streams.acquire(device).expect("under the limit"))
            .collect();
        assert!(streams.acquire(device).is_none());
        assert!(streams.acquire(Uuid::now_v7()).is_some(), "per session");
        drop(slots);
        assert_eq!(streams.open_for(device), 0);
        assert!(streams.acquire(device).is_some());
    }
}
