//! One GraphQL WebSocket connection: both protocols, its operations, shared subscriptions and batched writes.
//!
//! The messages and their wording are those of async-graphql's protocol engine, which this replaces so that a
//! subscription's events can come from its shape's shared execution (`graphql::fanout`) as bytes framed with
//! this connection's id; queries, mutations and subscriptions that cannot be shared run here as the engine ran
//! them. Whatever is ready when the connection wakes is written together, in one write when it fits
//! [`WRITE_BATCH`].

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_graphql::http::{ClientMessage, WebSocketProtocols};
use async_graphql::{Data, Request, Response};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::{BoxStream, SplitSink};
use futures_util::{SinkExt, StreamExt, future};
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use super::{Signed, connect};
use crate::auth::Origin;
use crate::auth::Principal;
use crate::authz::authorize_subscriptions;
use crate::error::ApiError;
use crate::graphql::fanout::{Item, Membership, Operation, Polled};
use crate::graphql::subscriptions::Resume;
use crate::state::AppState;

/// How long a client has to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Written as soon as this much waits; what is less waits for the end of the wake-up's batch.
pub(super) const WRITE_BATCH: usize = 4 * 1024;
/// The most ready messages taken in one wake-up before the client's own messages are read again.
const DRAIN: usize = 64;

/// A message to the client, worded as async-graphql's engine words it.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerMessage<'a> {
    ConnectionError { payload: async_graphql::Error },
    ConnectionAck,
    Data { id: &'a str, payload: &'a Response },
    Next { id: &'a str, payload: &'a Response },
    Complete { id: &'a str },
    Pong,
}

impl<'a> ServerMessage<'a> {
    /// An operation's next result: `next`, or `data` in the legacy protocol.
    fn result(protocol: WebSocketProtocols, id: &'a str, payload: &'a Response) -> Self {
        match protocol {
            WebSocketProtocols::SubscriptionsTransportWS => ServerMessage::Data { id, payload },
            WebSocketProtocols::GraphQLWS => ServerMessage::Next { id, payload },
        }
    }
}

/// One operation of the connection.
struct Subscription {
    id: String,
    op: Op,
}

enum Op {
    /// Executed for this connection alone.
    Private(BoxStream<'static, Response>),
    /// A subscriber of a shape: its items, and this connection's frame for them up to the payload.
    Shared { member: Membership, prefix: String },
}

/// What one of the operations has ready.
enum Ready {
    Private(usize, Option<Box<Response>>),
    Shared(usize, Polled),
}

/// How the connection ends.
enum End {
    /// With this close frame.
    Close(u16, String),
    /// Without one (the client left, or ended the connection itself).
    Quietly,
}

type Flow = Result<(), End>;

struct Connection {
    state: AppState,
    protocol: WebSocketProtocols,
    sink: SplitSink<WebSocket, Message>,
    header_token: Option<String>,
    origin: Origin,
    /// Whether `connection_init` came.
    initialised: bool,
    signed: Option<Signed>,
    subscriptions: Vec<Subscription>,
    /// Where the next poll of the operations starts, so that a busy one does not starve the others.
    turn: usize,
    /// When the shared subscribers' credential is next checked (their shapes do not check it).
    recheck_at: Option<Instant>,
}

/// Serves one connection until either side ends it.
pub(super) async fn serve(
    socket: WebSocket,
    state: AppState,
    protocol: WebSocketProtocols,
    header_token: Option<String>,
    origin: Origin,
) {
    let (sink, stream) = socket.split();
    let mut input = stream
        .take_while(|message| future::ready(message.is_ok()))
        .filter_map(|message| {
            future::ready(match message {
                Ok(Message::Text(text)) => Some(text.as_bytes().to_vec()),
                Ok(Message::Binary(bytes)) => Some(bytes.to_vec()),
                _ => None,
            })
        });
    let mut connection = Connection {
        state,
        protocol,
        sink,
        header_token,
        origin,
        initialised: false,
        signed: None,
        subscriptions: Vec::new(),
        turn: 0,
        recheck_at: None,
    };
    // Both timers live across the loop, so that a wake-up does not register them anew.
    let init_timeout = tokio::time::sleep(INIT_TIMEOUT);
    tokio::pin!(init_timeout);
    let recheck = tokio::time::sleep(INIT_TIMEOUT);
    tokio::pin!(recheck);
    let mut recheck_set = None;
    let end = loop {
        let signed = connection.signed.is_some();
        if connection.recheck_at != recheck_set {
            recheck_set = connection.recheck_at;
            if let Some(at) = recheck_set {
                recheck.as_mut().reset(at);
            }
        }
        enum Step {
            Client(Option<Vec<u8>>),
            Ready(Ready),
            InitTimeout,
            Recheck,
        }
        // Operations first: a wake-up for an item then does not poll the socket too.
        let step = tokio::select! {
            biased;
            ready = future::poll_fn(|cx| connection.poll_ready(cx)) => Step::Ready(ready),
            message = input.next() => Step::Client(message),
            () = &mut init_timeout, if !signed => Step::InitTimeout,
            () = &mut recheck, if recheck_set.is_some() => Step::Recheck,
        };
        // The rare steps are boxed: the connection's task stays small while it waits.
        let flow = match step {
            Step::Client(None) => break End::Quietly,
            Step::Client(Some(bytes)) => Box::pin(connection.on_message(&bytes)).await,
            Step::Ready(ready) => connection.on_ready(ready).await,
            Step::InitTimeout => {
                break End::Close(4408, "Connection initialisation timeout".to_owned());
            }
            Step::Recheck => Box::pin(connection.recheck()).await,
        };
        if let Err(end) = flow {
            break end;
        }
        // Whatever else is ready goes out with it.
        if let Err(end) = connection.drain().await {
            break end;
        }
        if connection.sink.flush().await.is_err() {
            break End::Quietly;
        }
    };
    if let End::Close(code, reason) = end {
        let _ = connection.sink.send(close(code, &reason)).await;
    }
}

fn close(code: u16, reason: &str) -> Message {
    // A close reason may hold at most 123 bytes.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: reason[..end].into(),
    }))
}

impl Connection {
    /// The next thing one of the operations has ready.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Ready> {
        let n = self.subscriptions.len();
        for k in 0..n {
            let i = (self.turn + k) % n;
            let ready = match &mut self.subscriptions[i].op {
                Op::Private(stream) => stream
                    .poll_next_unpin(cx)
                    .map(|item| Ready::Private(i, item.map(Box::new))),
                Op::Shared { member, .. } => {
                    member.poll_next(cx).map(|item| Ready::Shared(i, item))
                }
            };
            if ready.is_ready() {
                self.turn = i + 1;
                return ready;
            }
        }
        Poll::Pending
    }

    /// Handles what else is ready now, without waiting.
    async fn drain(&mut self) -> Flow {
        for _ in 0..DRAIN {
            // Polled with this task's waker (not `now_or_never`'s): what is not ready must wake this task.
            let Poll::Ready(ready) = future::poll_fn(|cx| Poll::Ready(self.poll_ready(cx))).await
            else {
                break;
            };
            self.on_ready(ready).await?;
        }
        Ok(())
    }

    /// Queues a text message; it is written with the batch.
    async fn feed(&mut self, text: String) -> Flow {
        self.sink
            .feed(Message::Text(text.into()))
            .await
            .map_err(|_| End::Quietly)
    }

    async fn send(&mut self, message: &ServerMessage<'_>) -> Flow {
        let text = serde_json::to_string(message)
            .map_err(|err| End::Close(1011, format!("a message did not serialize: {err}")))?;
        self.feed(text).await
    }

    async fn on_message(&mut self, bytes: &[u8]) -> Flow {
        let message =
            ClientMessage::from_bytes(bytes).map_err(|err| End::Close(4400, err.to_string()))?;
        match message {
            ClientMessage::ConnectionInit { payload } => {
                self.init(payload.unwrap_or_default()).await
            }
            ClientMessage::Start { id, payload } => self.start(id, payload).await,
            ClientMessage::Stop { id } => {
                let live = self.subscriptions.iter().position(|s| s.id == id);
                match live {
                    Some(i) => self.complete(i).await,
                    None => Ok(()),
                }
            }
            ClientMessage::ConnectionTerminate => Err(End::Quietly),
            ClientMessage::Ping { .. } => self.send(&ServerMessage::Pong).await,
            ClientMessage::Pong { .. } => Ok(()),
        }
    }

    /// `connection_init`: authenticates the connection once.
    async fn init(&mut self, payload: Value) -> Flow {
        if self.initialised {
            return self
                .refuse(4429, "Too many initialisation requests.".to_owned())
                .await;
        }
        self.initialised = true;
        match connect(
            &self.state,
            payload,
            self.header_token.take(),
            self.origin.clone(),
        )
        .await
        {
            Ok(signed) => {
                self.signed = Some(signed);
                self.send(&ServerMessage::ConnectionAck).await
            }
            Err(err) => {
                let code = match err {
                    ApiError::Unauthenticated(_) => 4401,
                    ApiError::RateLimited { .. } => 4429,
                    _ => 4403,
                };
                let message = err.public_message();
                self.refuse(code, message).await
            }
        }
    }

    /// Ends the connection: the legacy protocol first says why in `connection_error`.
    async fn refuse(&mut self, code: u16, message: String) -> Flow {
        if self.protocol == WebSocketProtocols::SubscriptionsTransportWS {
            self.send(&ServerMessage::ConnectionError {
                payload: async_graphql::Error::new(message.clone()),
            })
            .await?;
            if code == 4429 {
                return Err(End::Quietly);
            }
        }
        Err(End::Close(code, message))
    }

    /// `subscribe` (legacy `start`): runs an operation, joining its shape when it can be shared.
    async fn start(&mut self, id: String, request: Request) -> Flow {
        let Some(signed) = &self.signed else {
            return Err(End::Close(4401, "Unauthorized".to_owned()));
        };
        let live = self.subscriptions.iter().position(|s| s.id == id);
        if let Some(i) = live {
            if self.protocol == WebSocketProtocols::GraphQLWS {
                return Err(End::Close(
                    4409,
                    format!("Subscriber for {id} already exists"),
                ));
            }
            // The legacy protocol replaces it.
            self.subscriptions.remove(i);
        }
        let op = match Operation::of(&request, &signed.principal) {
            Some(operation) => {
                let state = &self.state;
                // The context is built only when this subscriber starts the shape.
                let member = state.fanout.join(operation, |request| {
                    let data = super::super::context::data(state, signed.principal.clone());
                    state
                        .schema
                        .execute_stream_with_session_data(request, Arc::new(data))
                });
                let prefix = frame_prefix(self.protocol, &id);
                if self.recheck_at.is_none() {
                    // Spread rechecks so that many connections opened together do not authenticate together.
                    let every = self.state.settings.subscription_recheck();
                    self.recheck_at =
                        Some(Instant::now() + every.mul_f64(rand::random_range(0.5..1.0)));
                }
                Op::Shared { member, prefix }
            }
            None => {
                let data = signed.data(&self.state);
                Op::Private(
                    self.state
                        .schema
                        .execute_stream_with_session_data(request, data),
                )
            }
        };
        self.subscriptions.push(Subscription { id, op });
        Ok(())
    }

    async fn on_ready(&mut self, ready: Ready) -> Flow {
        match ready {
            Ready::Private(i, Some(response)) => self.next(i, &response).await,
            Ready::Private(i, None) => self.complete(i).await,
            Ready::Shared(i, Polled::Item(item)) => match &*item {
                Item::Next { payload, .. } => {
                    let Op::Shared { prefix, .. } = &self.subscriptions[i].op else {
                        return Ok(());
                    };
                    let mut frame = String::with_capacity(prefix.len() + payload.len() + 1);
                    frame.push_str(prefix);
                    frame.push_str(payload);
                    frame.push('}');
                    self.feed(frame).await
                }
                Item::Recheck => Box::pin(self.recheck()).await,
                Item::End => self.complete(i).await,
            },
            Ready::Shared(i, Polled::Lagged) => {
                // Too far behind the shape: from now on a stream of its own, from the last event it was given.
                let data = self.signed.as_ref().map(|signed| signed.data(&self.state));
                if let Some(data) = data {
                    self.go_private(i, data);
                }
                Ok(())
            }
        }
    }

    /// Sends `response` as operation `i`'s next result (`data` in the legacy protocol).
    async fn next(&mut self, i: usize, response: &Response) -> Flow {
        let id = self.subscriptions[i].id.clone();
        self.send(&ServerMessage::result(self.protocol, &id, response))
            .await
    }

    /// Ends operation `i` with `complete`.
    async fn complete(&mut self, i: usize) -> Flow {
        let subscription = self.subscriptions.remove(i);
        self.disarm_recheck();
        self.send(&ServerMessage::Complete {
            id: &subscription.id,
        })
        .await
    }

    /// Moves shared subscription `i` to a stream of its own with `data`, resumed where the shape left it.
    fn go_private(&mut self, i: usize, data: Arc<Data>) {
        let Op::Shared { member, .. } = &self.subscriptions[i].op else {
            return;
        };
        let mut request = member.operation().request();
        request.data.insert(Resume(member.resume_point()));
        let stream = self
            .state
            .schema
            .execute_stream_with_session_data(request, data);
        self.subscriptions[i].op = Op::Private(stream);
        self.disarm_recheck();
    }

    /// Stops the credential checks when no shared subscription is left (private ones check their own).
    fn disarm_recheck(&mut self) {
        if !self
            .subscriptions
            .iter()
            .any(|s| matches!(s.op, Op::Shared { .. }))
        {
            self.recheck_at = None;
        }
    }

    /// Authenticates the connection's credential again for its shared subscriptions: a refusal ends each with
    /// the reason; a subscriber that may now see something else leaves its shape for a stream of its own.
    async fn recheck(&mut self) -> Flow {
        self.disarm_recheck();
        let Some(signed) = &self.signed else {
            return Ok(());
        };
        if self.recheck_at.is_none() {
            return Ok(());
        }
        self.recheck_at = Some(Instant::now() + self.state.settings.subscription_recheck());
        let checked = async {
            let principal = signed.credential.authenticate(&self.state.db).await?;
            authorize_subscriptions(&principal).await?;
            Ok::<Principal, ApiError>(principal)
        }
        .await;
        match checked {
            // The database is restarting: checked again as soon as it may answer, the subscriptions kept.
            Err(ApiError::Unavailable { retry_after_secs }) => {
                self.recheck_at =
                    Some(Instant::now() + Duration::from_secs(retry_after_secs.max(1)));
                Ok(())
            }
            Err(err) => {
                let error = async_graphql::Error::from(err);
                let mut i = 0;
                while i < self.subscriptions.len() {
                    let Op::Shared { member, .. } = &self.subscriptions[i].op else {
                        i += 1;
                        continue;
                    };
                    let response = member.operation().refusal(error.clone());
                    self.next(i, &response).await?;
                    self.complete(i).await?;
                }
                Ok(())
            }
            Ok(principal) => {
                let moved: Vec<usize> = self
                    .subscriptions
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| {
                        matches!(&s.op, Op::Shared { member, .. } if !member.operation().audience_of(&principal))
                    })
                    .map(|(i, _)| i)
                    .collect();
                if !moved.is_empty() {
                    let data = Arc::new(signed.data_for(&self.state, principal));
                    for i in moved {
                        self.go_private(i, data.clone());
                    }
                }
                Ok(())
            }
        }
    }
}

/// The start of a shared item's frame for subscription `id`, up to its payload.
fn frame_prefix(protocol: WebSocketProtocols, id: &str) -> String {
    let kind = match protocol {
        WebSocketProtocols::SubscriptionsTransportWS => "data",
        WebSocketProtocols::GraphQLWS => "next",
    };
    let id = serde_json::to_string(id).unwrap_or_else(|_| "\"\"".to_owned());
    format!("{{\"type\":\"{kind}\",\"id\":{id},\"payload\":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_frame_reads_as_the_engine_writes_a_message() {
        let response = Response::new(
            async_graphql::Value::from_json(serde_json::json!({"x": [1, "two"]})).unwrap(),
        );
        for protocol in [
            WebSocketProtocols::GraphQLWS,
            WebSocketProtocols::SubscriptionsTransportWS,
        ] {
            let id = "a \"quoted\" id";
            let engine =
                serde_json::to_string(&ServerMessage::result(protocol, id, &response)).unwrap();
            let shared = format!(
                "{}{}}}",
                frame_prefix(protocol, id),
                serde_json::to_string(&response).unwrap()
            );
            assert_eq!(shared, engine);
        }
    }
}
