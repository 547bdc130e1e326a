//! Shared subscriptions: each subscription shape is executed and serialized once per event, its bytes sent to all.
//!
//! A shape is what decides every answer of a subscription: the operation (query text, operation name and
//! variables, see `operation`) and the subscriber's audience ([`crate::auth::Principal::audience`]:
//! organization, plan and roles). The first subscriber of a shape starts its execution in a task of its own;
//! each response is serialized once and put on the shape's broadcast channel, and every subscriber's connection
//! (`graphql::ws`) frames the same bytes with its own id. Subscribers are checked one by one by their
//! connections; one whose credential or audience changes, or who falls behind the channel, leaves the shape for
//! a stream of its own resumed after the last event it was given ([`Membership::resume_point`]), so that it
//! misses nothing and gets nothing twice.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use async_graphql::{Request, Response};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::task::AbortHandle;

mod operation;

use crate::events::follow::{Since, Tap};
use operation::Key;
pub use operation::Operation;

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
    /// Also the tap the execution reports to.
    feed: Arc<Feed>,
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
        self.push_locked(&mut lock(&self.state), item);
    }

    /// Queues `item` and publishes the new end for the lock-free look of waiting subscribers.
    fn push_locked(&self, state: &mut FeedState, item: Item) {
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
        self.push_locked(&mut state, Item::Next { event, payload });
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
            feed: Arc::new(Feed::new(self.backlog)),
            task: Mutex::default(),
        });
        let mut request = operation.request();
        request
            .data
            .insert(super::subscriptions::Shared(shape.feed.clone()));
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
        forget(&mut lock(&self.shapes), shape);
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

/// Removes `shape` from `shapes` if it is still the one running for its key.
fn forget(shapes: &mut HashMap<Arc<Key>, Arc<Shape>>, shape: &Arc<Shape>) {
    let key = shape.operation.key.as_ref();
    if shapes.get(key).is_some_and(|s| Arc::ptr_eq(s, shape)) {
        shapes.remove(key);
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
        forget(&mut shapes, &self.shape);
        drop(shapes);
        if let Some(task) = lock(&self.shape.task).take() {
            task.abort();
        }
    }
}
