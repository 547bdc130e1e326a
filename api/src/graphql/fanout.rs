//! Shared subscriptions: each subscription shape is executed and serialized once per event, its bytes sent to all.
//!
//! A shape is what decides every answer of a subscription: the operation (query text, operation name and
//! variables) and the subscriber's audience ([`Principal::audience`]: organization, plan and roles). The first
//! subscriber of a shape starts its execution in a task of its own; each response is serialized once and put on
//! the shape's broadcast channel, and every subscriber's connection (`graphql::ws`) frames the same bytes with
//! its own id. Subscribers are checked one by one by their connections; one whose credential or audience
//! changes, or who falls behind the channel, leaves the shape for a stream of its own resumed after the last
//! event it was given ([`Membership::resume_point`]), so that it misses nothing and gets nothing twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use async_graphql::parser::types::{OperationType, Selection, VariableDefinition};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Waker;

use async_graphql::{Pos, Positioned, Request, Response, Value, Variables};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::task::AbortHandle;

use crate::auth::Principal;
use crate::events::follow::{Since, Tap};

/// The subscription fields whose streams follow the event stream (and so can be resumed after an event).
const FOLLOWING: [&str; 3] = ["conversationEvents", "organizationEvents", "messageAdded"];

/// Fields whose answer depends on who asks, not only on what they may see: an operation that names one is
/// shared only among the subscriptions of one member or key.
const PERSONAL: [&str; 1] = ["sessions"];

/// What identifies a shape.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Key {
    audience: String,
    query: String,
    operation_name: Option<String>,
    variables: String,
}

/// A subscription operation that can be shared, with what its subscribers need to leave the shape.
pub struct Operation {
    key: Arc<Key>,
    variables: Variables,
    /// The root field's position and response key, for the errors of one subscriber.
    pos: Pos,
    field: String,
}

impl Operation {
    /// The operation of `request` when it can be shared: a subscription of one following field without
    /// `after` (a replay is the subscriber's own), no directive on it and no request extension.
    pub fn of(request: &Request, principal: &Principal) -> Option<Operation> {
        if !request.extensions.0.is_empty() || !request.uploads.is_empty() {
            return None;
        }
        let document = async_graphql::parser::parse_query(&request.query).ok()?;
        let mut operations = document.operations.iter();
        let operation = match &request.operation_name {
            Some(name) => operations
                .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))
                .map(|(_, operation)| operation)?,
            None => match (operations.next(), operations.next()) {
                (Some((_, operation)), None) => operation,
                _ => return None,
            },
        };
        let operation = &operation.node;
        if operation.ty != OperationType::Subscription || !operation.directives.is_empty() {
            return None;
        }
        let [item] = operation.selection_set.node.items.as_slice() else {
            return None;
        };
        let Selection::Field(field) = &item.node else {
            return None;
        };
        let field_node = &field.node;
        if !field_node.directives.is_empty() || !FOLLOWING.contains(&field_node.name.node.as_str())
        {
            return None;
        }
        let after = field_node
            .arguments
            .iter()
            .find(|(name, _)| name.node == "after")
            .map(|(_, value)| &value.node);
        let replays = after.is_some_and(|value| {
            let resolved = value.clone().into_const_with(|name| {
                let given = request.variables.get(&name);
                let default = default_of(&operation.variable_definitions, name.as_str());
                Ok::<_, ()>(given.or(default).cloned().unwrap_or(Value::Null))
            });
            !matches!(resolved, Ok(Value::Null))
        });
        if replays {
            return None;
        }
        let mut audience = principal.audience();
        if PERSONAL.iter().any(|name| request.query.contains(name)) {
            audience.push('|');
            audience.push_str(principal.actor_id());
        }
        Some(Operation {
            key: Arc::new(Key {
                audience,
                query: request.query.clone(),
                operation_name: request.operation_name.clone(),
                variables: serde_json::to_string(&request.variables).ok()?,
            }),
            variables: request.variables.clone(),
            pos: field.pos,
            field: field_node.response_key().node.to_string(),
        })
    }

    /// Whether `principal` would see this operation's answers as its shape's subscribers do.
    pub fn audience_of(&self, principal: &Principal) -> bool {
        let audience = principal.audience();
        self.key.audience == audience
            || self
                .key
                .audience
                .strip_prefix(audience.as_str())
                .is_some_and(|rest| rest.strip_prefix('|') == Some(principal.actor_id()))
    }

    /// A new request for this operation.
    pub fn request(&self) -> Request {
        let mut request = Request::new(self.key.query.clone()).variables(self.variables.clone());
        if let Some(name) = &self.key.operation_name {
            request = request.operation_name(name.clone());
        }
        request
    }

    /// The response that ends one subscriber's stream with `error`, as the execution would have put it.
    pub fn refusal(&self, error: async_graphql::Error) -> Response {
        Response::from_errors(vec![
            error
                .into_server_error(self.pos)
                .with_path(vec![async_graphql::PathSegment::Field(self.field.clone())]),
        ])
    }
}

fn default_of<'a>(
    definitions: &'a [Positioned<VariableDefinition>],
    name: &str,
) -> Option<&'a Value> {
    definitions
        .iter()
        .find(|d| d.node.name.node == name)
        .and_then(|d| d.node.default_value.as_ref())
        .map(|v| &v.node)
}

/// What a shape sends its subscribers.
#[derive(Debug)]
pub enum Item {
    /// A response, serialized, and the event it answers (none for an error not tied to one).
    Next {
        event: Option<String>,
        payload: String,
    },
    /// The organization's access changed: each subscriber checks its credential again.
    Recheck,
    /// The execution ended (after an error, or its stream ended): each subscriber completes.
    End,
}

/// The running shapes of this process.
pub struct Hub {
    shapes: Mutex<HashMap<Arc<Key>, Arc<Shape>>>,
    /// How many items a shape keeps for subscribers that have not taken them yet; one further behind lags.
    backlog: usize,
}

/// One shape's execution.
struct Shape {
    operation: Arc<Operation>,
    feed: Feed,
    task: Mutex<Option<AbortHandle>>,
}

/// A shape's items on their way to its subscribers, and how far its stream has come.
///
/// A broadcast channel whose sender wakes the waiting subscribers [`WAKE_BATCH`] at a time, letting the rest of
/// the server run in between: requests that commit the next events are not held up behind a whole fan-out, and
/// a subscriber woken late finds every event that came meanwhile, written in one go.
struct Feed {
    state: Mutex<FeedState>,
    /// `state.end()`, readable without the lock by subscribers already waiting there.
    end: AtomicU64,
}

struct FeedState {
    /// The items not yet dropped, oldest first.
    items: VecDeque<Arc<Item>>,
    /// The number of `items[0]` in the shape's sequence.
    first: u64,
    capacity: usize,
    /// Subscribers waiting past the end, with the end they waited at, in the order they came.
    waiting: VecDeque<(u64, Waker)>,
    subscribers: usize,
    /// The event the stream began after, once known (`Some(None)`: the organization had none).
    start: Option<Option<String>>,
    /// The event of the last response sent.
    last: Option<String>,
    /// The event being executed now.
    current: Option<String>,
}

/// How many waiting subscribers a shape wakes before letting other tasks run.
const WAKE_BATCH: usize = 64;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FeedState {
    fn end(&self) -> u64 {
        self.first + self.items.len() as u64
    }

    fn push(&mut self, item: Item) {
        if self.items.len() >= self.capacity {
            self.items.pop_front();
            self.first += 1;
        }
        self.items.push_back(Arc::new(item));
    }

    /// Whether a subscriber waits for an item that has come.
    fn due(&self) -> bool {
        self.waiting.front().is_some_and(|(at, _)| *at < self.end())
    }
}

impl Tap for Feed {
    fn started(&self, cursor: Option<&str>) {
        lock(&self.state).start = Some(cursor.map(str::to_owned));
    }

    fn event(&self, id: &str) {
        lock(&self.state).current = Some(id.to_owned());
    }

    fn access_changed(&self) {
        self.push(Item::Recheck);
    }
}

impl Feed {
    fn push(&self, item: Item) {
        let mut state = lock(&self.state);
        state.push(item);
        self.end.store(state.end(), Ordering::Release);
    }

    fn new(capacity: usize) -> Self {
        Feed {
            state: Mutex::new(FeedState {
                items: VecDeque::new(),
                first: 0,
                capacity,
                waiting: VecDeque::new(),
                subscribers: 0,
                start: None,
                last: None,
                current: None,
            }),
            end: AtomicU64::new(0),
        }
    }

    /// Queues one response for every subscriber.
    fn publish(&self, response: &Response) {
        let payload = match serde_json::to_string(response) {
            Ok(payload) => payload,
            Err(err) => {
                tracing::error!(error = %err, "a shared subscription response did not serialize");
                return;
            }
        };
        let mut state = lock(&self.state);
        let event = state.current.take();
        if event.is_some() {
            state.last.clone_from(&event);
        }
        state.push(Item::Next { event, payload });
        self.end.store(state.end(), Ordering::Release);
    }

    fn due(&self) -> bool {
        lock(&self.state).due()
    }

    /// Wakes up to `n` of the subscribers an item has come for.
    fn wake(&self, n: usize) {
        let wakers: Vec<Waker> = {
            let mut state = lock(&self.state);
            let end = state.end();
            let mut wakers = Vec::with_capacity(n.min(state.waiting.len()));
            while wakers.len() < n {
                match state.waiting.front() {
                    Some((at, _)) if *at < end => {
                        if let Some((_, waker)) = state.waiting.pop_front() {
                            wakers.push(waker);
                        }
                    }
                    _ => break,
                }
            }
            wakers
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// Wakes every subscriber an item has come for, a batch at a time.
    async fn wake_all(&self) {
        while self.due() {
            self.wake(WAKE_BATCH);
            tokio::task::yield_now().await;
        }
    }
}

impl Hub {
    /// A hub whose shapes keep `backlog` items for their slowest subscribers.
    pub fn new(backlog: usize) -> Self {
        Hub {
            shapes: Mutex::default(),
            backlog: backlog.max(1),
        }
    }

    /// Joins the shape of `operation`, starting its execution with `execute` when it has none running.
    pub fn join(
        self: &Arc<Self>,
        operation: Operation,
        execute: impl FnOnce(Request) -> BoxStream<'static, Response>,
    ) -> Membership {
        let mut shapes = lock(&self.shapes);
        if let Some(shape) = shapes.get(operation.key.as_ref()) {
            return Membership::new(self.clone(), shape.clone());
        }
        let key = operation.key.clone();
        let operation = Arc::new(operation);
        let shape = Arc::new(Shape {
            operation: operation.clone(),
            feed: Feed::new(self.backlog),
            task: Mutex::default(),
        });
        let mut request = operation.request();
        let tap: Arc<dyn Tap> = Arc::new(FeedTap(shape.clone()));
        request.data.insert(super::subscriptions::Shared(tap));
        let mut stream = execute(request);
        let hub = Arc::downgrade(self);
        let running = shape.clone();
        let task = tokio::spawn(async move {
            loop {
                enum Step {
                    Response(Option<Box<Response>>),
                    Wake,
                }
                let step = std::future::poll_fn(|cx| {
                    if let Poll::Ready(response) = stream.poll_next_unpin(cx) {
                        return Poll::Ready(Step::Response(response.map(Box::new)));
                    }
                    if running.feed.due() {
                        return Poll::Ready(Step::Wake);
                    }
                    Poll::Pending
                })
                .await;
                match step {
                    Step::Response(Some(response)) => running.feed.publish(&response),
                    Step::Response(None) => break,
                    Step::Wake => {
                        running.feed.wake(WAKE_BATCH);
                        tokio::task::yield_now().await;
                    }
                }
            }
            // Gone from the hub first: a subscriber that joined before is sure to get the end.
            if let Some(hub) = hub.upgrade() {
                hub.remove(&running);
            }
            running.feed.push(Item::End);
            running.feed.wake_all().await;
        });
        *lock(&shape.task) = Some(task.abort_handle());
        shapes.insert(key, shape.clone());
        Membership::new(self.clone(), shape)
    }

    /// Forgets `shape` if it is still the one running for its key.
    fn remove(&self, shape: &Arc<Shape>) {
        let mut shapes = lock(&self.shapes);
        if shapes
            .get(shape.operation.key.as_ref())
            .is_some_and(|s| Arc::ptr_eq(s, shape))
        {
            shapes.remove(shape.operation.key.as_ref());
        }
    }

    /// How many shapes are running, and how many subscribers they have.
    pub fn counts(&self) -> (usize, usize) {
        let shapes = lock(&self.shapes);
        let subscribers = shapes
            .values()
            .map(|s| lock(&s.feed.state).subscribers)
            .sum();
        (shapes.len(), subscribers)
    }
}

/// The shape's execution reports to its feed through this (the shape itself holds the task that runs it).
struct FeedTap(Arc<Shape>);

impl Tap for FeedTap {
    fn started(&self, cursor: Option<&str>) {
        self.0.feed.started(cursor);
    }

    fn event(&self, id: &str) {
        self.0.feed.event(id);
    }

    fn access_changed(&self) {
        self.0.feed.access_changed();
    }
}

/// One subscriber of a shape. Dropping it leaves the shape; the last to leave stops its execution.
pub struct Membership {
    hub: Arc<Hub>,
    shape: Arc<Shape>,
    /// The number of the next item to take.
    next: u64,
    /// The end this subscriber last waited at.
    waits_at: Option<u64>,
    /// The shape's position when this subscriber joined (`None`: not known yet).
    joined: Option<Option<String>>,
    /// The last item with an event this subscriber took.
    last: Option<Arc<Item>>,
}

/// What a member's next poll gives.
pub enum Polled {
    Item(Arc<Item>),
    /// The subscriber fell further behind than the shape keeps.
    Lagged,
}

impl Membership {
    /// Joins `shape` at its end. Called under the hub's lock, so that the last subscriber's leaving (which
    /// takes it too) and a new one's joining do not cross.
    fn new(hub: Arc<Hub>, shape: Arc<Shape>) -> Self {
        let mut state = lock(&shape.feed.state);
        state.subscribers += 1;
        let next = state.end();
        let joined = match &state.last {
            Some(last) => Some(Some(last.clone())),
            None => state.start.clone(),
        };
        drop(state);
        Membership {
            hub,
            shape,
            next,
            waits_at: None,
            joined,
            last: None,
        }
    }

    /// The shape's operation.
    pub fn operation(&self) -> &Arc<Operation> {
        &self.shape.operation
    }

    /// The next item of the shape.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Polled> {
        // Already waiting at the end, which has not moved: nothing to take, and the waker is registered.
        if self.waits_at == Some(self.next)
            && self.shape.feed.end.load(Ordering::Acquire) == self.next
        {
            return Poll::Pending;
        }
        let mut state = lock(&self.shape.feed.state);
        if self.next < state.first {
            return Poll::Ready(Polled::Lagged);
        }
        let end = state.end();
        if self.next < end {
            let item = state.items[(self.next - state.first) as usize].clone();
            drop(state);
            self.next += 1;
            if let Item::Next { event: Some(_), .. } = &*item {
                self.last = Some(item.clone());
            }
            return Poll::Ready(Polled::Item(item));
        }
        if self.waits_at != Some(end) {
            state.waiting.push_back((end, cx.waker().clone()));
            self.waits_at = Some(end);
        }
        Poll::Pending
    }
    /// Where a stream of this subscriber's own resumes so as to follow on from what the shape gave it.
    pub fn resume_point(&self) -> Since {
        let last = self.last.as_deref().and_then(|item| match item {
            Item::Next { event, .. } => event.clone(),
            _ => None,
        });
        let position = match (last, &self.joined) {
            (Some(last), _) => Some(Some(last)),
            (None, Some(joined)) => Some(joined.clone()),
            // Joined before the stream began: it began after the subscriber joined, so where it began.
            (None, None) => lock(&self.shape.feed.state).start.clone(),
        };
        match position {
            Some(Some(event)) => Since::After(event),
            Some(None) => Since::Start,
            // The stream never began: nothing was sent.
            None => Since::Now,
        }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        let mut shapes = lock(&self.hub.shapes);
        let mut state = lock(&self.shape.feed.state);
        state.subscribers = state.subscribers.saturating_sub(1);
        if state.subscribers > 0 {
            return;
        }
        drop(state);
        let key = self.shape.operation.key.as_ref();
        if shapes.get(key).is_some_and(|s| Arc::ptr_eq(s, &self.shape)) {
            shapes.remove(key);
        }
        drop(shapes);
        if let Some(task) = lock(&self.shape.task).take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(query: &str, variables: serde_json::Value) -> Request {
        Request::new(query).variables(Variables::from_json(variables))
    }

    #[tokio::test]
    async fn only_live_following_subscriptions_are_shared() {
        let principal = Principal {
            organization: crate::authz::Tenant::new("org_test".to_owned()),
            plan: crate::auth::Plan::Premium,
            role: crate::auth::Role::Admin,
            actor: crate::auth::Actor::ApiKey {
                id: "key_test".to_owned(),
            },
            origin: crate::auth::Origin::default(),
            scopes: None,
            authz: crate::authz::Authz::detached().await.unwrap(),
        };
        let shared = |query: &str, variables| Operation::of(&request(query, variables), &principal);
        assert!(
            shared(
                "subscription { organizationEvents { id } }",
                serde_json::json!({})
            )
            .is_some()
        );
        assert!(
            shared(
                "subscription S($id: ID!, $after: ID) { messageAdded(conversationId: $id, after: $after) { id } }",
                serde_json::json!({"id": "conv_1"})
            )
            .is_some()
        );
        // A replay is the subscriber's own.
        assert!(
            shared(
                "subscription S($after: ID) { organizationEvents(after: $after) { id } }",
                serde_json::json!({"after": "evt_1"})
            )
            .is_none()
        );
        assert!(
            shared(
                "subscription S($after: ID = \"evt_1\") { organizationEvents(after: $after) { id } }",
                serde_json::json!({})
            )
            .is_none()
        );
        assert!(
            shared(
                "subscription { organizationEvents(after: \"evt_1\") { id } }",
                serde_json::json!({})
            )
            .is_none()
        );
        // Not a subscription, or not one field.
        assert!(shared("{ __typename }", serde_json::json!({})).is_none());
        assert!(
            shared(
                "subscription { ...F } fragment F on Subscription { organizationEvents { id } }",
                serde_json::json!({})
            )
            .is_none()
        );
        assert!(shared("subscription {", serde_json::json!({})).is_none());
    }
}
