//! Live event streams for subscriptions: what the subscriber missed, read from the table, then the bus, in order.
//!
//! A stream keeps a cursor: the newest event of the organization's stream it has accounted for (delivered or
//! filtered out). A notice whose predecessor is the cursor is simply next; any other notice means something was
//! missed (a lagging channel, a Redis reconnect, two instances publishing at once), and the gap up to that notice
//! is read back from the `events` table, which holds every committed event in commit order (see
//! [`outbox::lock_stream`](crate::events::outbox::lock_stream)). So a subscriber gets each event once, in stream order, with no gap.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use entities::event;
use futures_util::Stream;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;

use crate::auth::Principal;
use crate::auth::credentials::Credential;
use crate::authz::{Action, Resource, authorize, authorize_subscriptions};
use crate::db::Db;
use crate::error::{ApiError, ApiResult};
use crate::events::bus::Signal;
use crate::events::feed::{readable_types, resource_of};
use crate::events::names;
use crate::events::outbox::latest_id;
use crate::ids::{self, Kind};
use crate::service::conversations;

/// How many missed events one read of the table brings back.
const GAP_PAGE: u64 = 500;

/// Which events a subscription wants.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// Only this conversation's events.
    pub conversation_id: Option<String>,
    /// Only these types (all the caller may read when empty).
    pub types: Vec<String>,
}

impl Scope {
    /// A conversation's events.
    pub fn conversation(id: &str) -> Self {
        Scope {
            conversation_id: Some(id.to_owned()),
            types: Vec::new(),
        }
    }

    /// A conversation's new messages.
    pub fn messages(conversation_id: &str) -> Self {
        Scope {
            conversation_id: Some(conversation_id.to_owned()),
            types: vec![names::MESSAGE_CREATED.to_owned()],
        }
    }

    /// The organization's events of these types.
    pub fn organization(types: Vec<String>) -> Self {
        Scope {
            conversation_id: None,
            types,
        }
    }
}

/// How often a subscription authenticates its credential again when nothing told it to.
#[derive(Clone, Copy, Debug)]
pub struct Recheck(pub Duration);

/// Where a stream starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Since {
    /// With the events committed from now on.
    Now,
    /// After this event, replaying from the table what came since.
    After(String),
    /// With the organization's first event (for a stream resumed where a shared one began, when the
    /// organization had no event yet).
    Start,
}

/// What a stream that many subscribers share tells whoever serves them (see `graphql::fanout`).
pub trait Tap: Send + Sync {
    /// The stream began after this event (`None`: the organization had none yet).
    fn started(&self, cursor: Option<&str>);
    /// This event is the one being yielded.
    fn event(&self, id: &str);
    /// The organization's access changed and the stream still may be read: each subscriber checks its own
    /// credential again.
    fn access_changed(&self);
}

/// Who a GraphQL subscription's stream is followed for.
pub enum Watcher {
    /// One member or key, whose credential the stream authenticates again at each recheck.
    Team(Credential),
    /// Every subscriber of one shape (`graphql::fanout`): the stream checks the scope with the principal it was
    /// opened with, and each subscriber's credential is checked by its own connection.
    Shared(Arc<dyn Tap>),
}

/// Whom a stream follows for, authenticated again at each recheck.
enum Holder {
    /// A member or a key (GraphQL subscriptions).
    Team(Credential),
    /// A website visitor's widget session, on its own conversation.
    Visitor(VisitorCredential),
    /// The subscribers of one shape: the principal that opened it, and where to report.
    Shared(Principal, Arc<dyn Tap>),
}

/// A widget session kept by a visitor's event stream.
pub struct VisitorCredential {
    pub token: secrecy::SecretString,
    pub site: crate::service::widget::Site,
    pub idle_days: u32,
    pub authz: std::sync::Arc<crate::authz::Authz>,
}

/// The event types a visitor's stream carries: its conversation's messages and status changes.
pub const VISITOR_TYPES: [&str; 4] = [
    names::MESSAGE_CREATED,
    names::CONVERSATION_UPDATED,
    names::CONVERSATION_RESOLVED,
    names::HANDOFF_REQUESTED,
];

/// One live subscription's state.
struct Follower {
    db: Db,
    holder: Holder,
    organization_id: String,
    scope: Scope,
    /// The event types of the scope the caller may read now.
    readable: Vec<&'static str>,
    cursor: Option<String>,
    rx: broadcast::Receiver<Signal>,
    backlog: VecDeque<event::Model>,
    /// A gap to read from the table: up to this event, or to the newest one when `Some(None)`.
    gap: Option<Option<String>>,
    recheck_every: Duration,
    recheck_at: Instant,
    /// A recheck failed because the database could not be reached: it is tried again before anything else.
    must_recheck: bool,
    done: bool,
}

/// Starts following the caller's events in `scope` from `since`.
pub async fn follow(
    db: &Db,
    watcher: Watcher,
    principal: Principal,
    scope: Scope,
    since: Since,
    recheck: Recheck,
) -> ApiResult<impl Stream<Item = ApiResult<event::Model>> + Send + use<>> {
    authorize_subscriptions(&principal).await?;
    let (organization_id, readable) = access(db, &principal, &scope).await?;
    let holder = match watcher {
        Watcher::Team(credential) => Holder::Team(credential),
        Watcher::Shared(tap) => Holder::Shared(principal, tap),
    };
    start(db, holder, organization_id, readable, scope, since, recheck).await
}

/// Starts following a visitor's own conversation for the widget: its messages and status changes, after the
/// event `after` when given.
pub async fn follow_visitor(
    db: &Db,
    credential: VisitorCredential,
    principal: Principal,
    conversation_id: &str,
    after: Option<&str>,
    recheck: Recheck,
) -> ApiResult<impl Stream<Item = ApiResult<event::Model>> + Send + use<>> {
    let conversation =
        crate::service::widget::get_conversation(db, &principal, conversation_id).await?;
    start(
        db,
        Holder::Visitor(credential),
        conversation.organization_id,
        VISITOR_TYPES.to_vec(),
        Scope::conversation(&conversation.id),
        after.map_or(Since::Now, |id| Since::After(id.to_owned())),
        recheck,
    )
    .await
}

async fn start(
    db: &Db,
    holder: Holder,
    organization_id: String,
    readable: Vec<&'static str>,
    scope: Scope,
    since: Since,
    recheck: Recheck,
) -> ApiResult<impl Stream<Item = ApiResult<event::Model>> + Send + use<>> {
    // Subscribe before reading the cursor: whatever commits after the read is on the bus.
    let rx = db.bus().subscribe();
    let (cursor, gap) = match since {
        Since::After(after) => {
            let after = ids::parse(Kind::Event, "after", &after)?;
            let known = event::Entity::find_by_id(after.clone())
                .filter(event::Column::OrganizationId.eq(&organization_id))
                .select_only()
                .column(event::Column::Id)
                .into_tuple::<String>()
                .one(db.conn())
                .await?;
            if known.is_none() {
                return Err(ApiError::validation(
                    "after",
                    format!(
                        "no event {after} in this organization's stream (events older than the retention window are gone)"
                    ),
                ));
            }
            (Some(after), Some(None))
        }
        Since::Start => (None, Some(None)),
        Since::Now => (latest_id(db.conn(), &organization_id).await?, None),
    };
    if let Holder::Shared(_, tap) = &holder {
        tap.started(cursor.as_deref());
    }
    // Spread rechecks so that many subscriptions opened together do not authenticate together.
    let jitter = rand::random_range(0.5..1.0);
    let follower = Follower {
        db: db.clone(),
        holder,
        organization_id,
        scope,
        readable,
        cursor,
        rx,
        backlog: VecDeque::new(),
        gap,
        recheck_every: recheck.0,
        recheck_at: Instant::now() + recheck.0.mul_f64(jitter),
        must_recheck: false,
        done: false,
    };
    Ok(futures_util::stream::unfold(follower, |mut f| async move {
        if f.done {
            return None;
        }
        let item = f.next().await?;
        if item.is_err() {
            f.done = true;
        }
        Some((item, f))
    }))
}

/// The caller's organization and the event types of `scope` it may read; refuses a scope it may not read at all.
async fn access(
    db: &Db,
    principal: &Principal,
    scope: &Scope,
) -> ApiResult<(String, Vec<&'static str>)> {
    let readable = readable_types(principal, &scope.types).await?;
    let first = readable
        .first()
        .ok_or_else(|| ApiError::validation("types", "no event type to follow"))?;
    let grant = authorize(principal, resource_of(first), Action::Read).await?;
    if let Some(id) = &scope.conversation_id {
        let grant = authorize(principal, Resource::Conversation, Action::Read).await?;
        conversations::find(db.conn(), grant.organization_id(), id).await?;
    }
    Ok((grant.organization_id().to_owned(), readable))
}

impl Follower {
    async fn next(&mut self) -> Option<ApiResult<event::Model>> {
        loop {
            // A check the database could not answer: nothing more is delivered until it passes.
            if self.must_recheck {
                match self.recheck().await {
                    Ok(()) => {
                        self.must_recheck = false;
                        // It may have been an access change: the subscribers check their own credentials too.
                        if let Holder::Shared(_, tap) = &self.holder {
                            tap.access_changed();
                        }
                    }
                    Err(ApiError::Unavailable { retry_after_secs }) => {
                        tokio::time::sleep(Duration::from_secs(retry_after_secs.max(1))).await;
                    }
                    Err(err) => return Some(Err(err)),
                }
                continue;
            }
            if let Some(event) = self.backlog.pop_front() {
                if self.readable.contains(&event.event.as_str()) && self.in_scope(&event) {
                    if let Holder::Shared(_, tap) = &self.holder {
                        tap.event(&event.id);
                    }
                    return Some(Ok(event));
                }
                continue;
            }
            if let Some(until) = self.gap.take() {
                match self.read_gap(until.clone()).await {
                    Ok(()) => {}
                    // The database is restarting: the stream waits for it rather than ending.
                    Err(ApiError::Unavailable { retry_after_secs }) => {
                        self.gap = Some(until);
                        tokio::time::sleep(Duration::from_secs(retry_after_secs.max(1))).await;
                    }
                    Err(err) => return Some(Err(err)),
                }
                continue;
            }
            let signal = tokio::select! {
                signal = self.rx.recv() => signal,
                () = tokio::time::sleep_until(self.recheck_at) => {
                    match self.recheck().await {
                        Ok(()) => {}
                        // Checked again once the database answers, and nothing delivered until then.
                        Err(ApiError::Unavailable { .. }) => self.must_recheck = true,
                        Err(err) => return Some(Err(err)),
                    }
                    continue;
                }
            };
            match signal {
                Ok(Signal::Event(notice)) => {
                    let event = &notice.event;
                    if event.organization_id != self.organization_id
                        || self.cursor.as_ref().is_some_and(|c| event.id <= *c)
                    {
                        continue;
                    }
                    if notice.prev_id == self.cursor {
                        self.cursor = Some(event.id.clone());
                        self.backlog.push_back(event.clone());
                    } else {
                        self.gap = Some(Some(event.id.clone()));
                    }
                }
                Ok(Signal::Access(organization)) => {
                    if *organization == *self.organization_id {
                        match self.recheck().await {
                            Ok(()) => {}
                            Err(ApiError::Unavailable { .. }) => {
                                self.must_recheck = true;
                                continue;
                            }
                            Err(err) => return Some(Err(err)),
                        }
                        if let Holder::Shared(_, tap) = &self.holder {
                            tap.access_changed();
                        }
                    }
                }
                Ok(Signal::Resync) | Err(RecvError::Lagged(_)) => self.gap = Some(None),
                Err(RecvError::Closed) => return None,
            }
        }
    }

    fn in_scope(&self, event: &event::Model) -> bool {
        match &self.scope.conversation_id {
            Some(id) => event.conversation_id.as_deref() == Some(id.as_str()),
            None => true,
        }
    }

    /// Reads the events after the cursor up to `until` (the newest when `None`) from the table.
    async fn read_gap(&mut self, until: Option<String>) -> ApiResult<()> {
        let until = match until {
            Some(until) => until,
            None => match latest_id(self.db.conn(), &self.organization_id).await? {
                Some(latest) => latest,
                None => return Ok(()),
            },
        };
        if self.cursor.as_ref().is_some_and(|c| *c >= until) {
            return Ok(());
        }
        let mut query = event::Entity::find()
            .filter(event::Column::OrganizationId.eq(&self.organization_id))
            .filter(event::Column::Id.lte(&until))
            .filter(event::Column::Event.is_in(self.readable.iter().copied()));
        if let Some(cursor) = &self.cursor {
            query = query.filter(event::Column::Id.gt(cursor));
        }
        if let Some(id) = &self.scope.conversation_id {
            query = query.filter(event::Column::ConversationId.eq(id));
        }
        let rows = crate::db::background(
            query
                .order_by_asc(event::Column::Id)
                .limit(GAP_PAGE)
                .all(self.db.conn()),
        )
        .await?;
        if rows.len() as u64 == GAP_PAGE {
            // More to read: continue after the last row of this page.
            self.cursor = rows.last().map(|e| e.id.clone());
            self.gap = Some(Some(until));
        } else {
            self.cursor = Some(until);
        }
        self.backlog.extend(rows);
        Ok(())
    }

    /// Authenticates the credential again and recomputes what the caller may read; fails when it no longer may.
    async fn recheck(&mut self) -> ApiResult<()> {
        self.recheck_at = Instant::now() + self.recheck_every;
        let credential = match &self.holder {
            Holder::Team(credential) => credential,
            Holder::Shared(principal, _) => {
                // Each subscriber's credential is its connection's to check; the scope is checked here.
                access(&self.db, principal, &self.scope).await?;
                return Ok(());
            }
            Holder::Visitor(visitor) => {
                use secrecy::ExposeSecret;
                let principal = crate::service::widget::authenticate(
                    &self.db,
                    &visitor.authz,
                    visitor.idle_days,
                    visitor.token.expose_secret(),
                    &visitor.site,
                )
                .await?;
                let id = self.scope.conversation_id.clone().unwrap_or_default();
                crate::service::widget::get_conversation(&self.db, &principal, &id).await?;
                return Ok(());
            }
        };
        let principal = credential.authenticate(&self.db).await?;
        authorize_subscriptions(&principal).await?;
        let (organization_id, readable) = access(&self.db, &principal, &self.scope).await?;
        if organization_id != self.organization_id {
            return Err(ApiError::Forbidden(
                "the credential now belongs to another organization".to_owned(),
            ));
        }
        self.readable = readable;
        Ok(())
    }
}
