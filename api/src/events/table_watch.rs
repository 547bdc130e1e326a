//! While an instance cannot hear the others' notices through Redis, it reads new events from the table and hands them to its own subscribers, so that each still gets every event, in order.
//!
//! The watch starts when the bus stops hearing everything (Redis down, or the listener not subscribed): it tells
//! every subscriber to read what it missed from the table once ([`Signal::Resync`]), then every [`EVERY`] reads
//! the ids committed in the last [`WINDOW`] and hands the new ones over as notices naming their true
//! predecessor, which is what a subscriber checks ([`follow`](crate::events::follow)). A commit that lands after
//! a later id is still in the window; one seen twice (through Redis as well) is skipped by subscribers. It goes
//! on for [`GRACE`] after the bus hears everything again, since instances notice Redis's return at different
//! moments and one may still have published locally only.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use entities::event;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::time::Instant;

use crate::db::Db;
use crate::error::ApiResult;
use crate::events::bus::{Notice, Signal};
use crate::ids::Kind;
use crate::workers::Shutdown;

/// How often the table is read while the watch runs.
const EVERY: Duration = Duration::from_millis(250);

/// How far back each read reaches: an event's id is taken before its transaction commits, so an event may
/// appear in the table after events with later ids (of other organizations).
const WINDOW: Duration = Duration::from_secs(3);

/// How long the watch goes on once the bus hears everything again.
const GRACE: Duration = Duration::from_secs(5);

/// The most events read at once.
const PAGE: usize = 500;

/// Watches the table whenever the bus cannot hear every instance, until shutdown.
pub async fn run(db: Db, mut shutdown: Shutdown) {
    if !db.bus().is_shared() {
        return;
    }
    let mut watch = Watch::default();
    while shutdown.sleep(EVERY).await {
        if let Err(err) = watch.round(&db).await {
            tracing::warn!(
                ?err,
                "could not read new events from the table; trying again"
            );
        }
    }
}

/// The watch's state.
#[derive(Default)]
struct Watch {
    active: bool,
    /// Ids handed over (or already known) within the window.
    seen: BTreeSet<String>,
    /// When the watch stops, once the bus hears everything again.
    stop_at: Option<Instant>,
}

impl Watch {
    async fn round(&mut self, db: &Db) -> ApiResult<()> {
        let hears = db.bus().hears_everything();
        if !self.active {
            if hears {
                return Ok(());
            }
            // What committed until now: every subscriber reads it from the table itself.
            self.seen = window_ids(db, &floor_id()).await?.into_iter().collect();
            self.active = true;
            self.stop_at = None;
            tracing::info!("reading new events from the table until Redis carries them again");
            db.bus().hear(vec![Signal::Resync]);
            return Ok(());
        }
        if hears {
            let stop_at = *self.stop_at.get_or_insert_with(|| Instant::now() + GRACE);
            if Instant::now() >= stop_at {
                self.active = false;
                self.seen.clear();
                tracing::info!("live events come through Redis again");
                return Ok(());
            }
        } else {
            self.stop_at = None;
        }
        let floor = floor_id();
        let ids = window_ids(db, &floor).await?;
        self.seen = self.seen.split_off(&floor);
        let new: Vec<String> = ids
            .into_iter()
            .filter(|id| !self.seen.contains(id))
            .collect();
        for page in new.chunks(PAGE) {
            let events = event::Entity::find()
                .filter(event::Column::Id.is_in(page.iter().cloned()))
                .order_by_asc(event::Column::Id)
                .all(db.conn())
                .await?;
            let notices = with_predecessors(db, events).await?;
            self.seen.extend(notices.iter().map(|n| n.event.id.clone()));
            db.bus().hear(
                notices
                    .into_iter()
                    .map(|notice| Signal::Event(Arc::new(notice)))
                    .collect(),
            );
        }
        Ok(())
    }
}

/// The smallest id an event made [`WINDOW`] ago could have.
fn floor_id() -> String {
    let at = SystemTime::now()
        .checked_sub(WINDOW)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let ulid = ulid::Ulid::from_parts(
        at.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        0,
    );
    format!("{}{}", Kind::Event.prefix(), ulid)
}

/// The ids of the events from `floor` (see [`floor_id`]) on, in order.
async fn window_ids(db: &Db, floor: &str) -> ApiResult<Vec<String>> {
    Ok(event::Entity::find()
        .select_only()
        .column(event::Column::Id)
        .filter(event::Column::Id.gte(floor))
        .order_by_asc(event::Column::Id)
        .into_tuple::<String>()
        .all(db.conn())
        .await?)
}

/// The events (in id order) as notices, each naming the organization's event before it.
async fn with_predecessors(db: &Db, events: Vec<event::Model>) -> ApiResult<Vec<Notice>> {
    let mut last: HashMap<String, Option<String>> = HashMap::new();
    let mut notices = Vec::with_capacity(events.len());
    for event in events {
        let prev_id = match last.get(&event.organization_id) {
            Some(prev) => prev.clone(),
            None => {
                event::Entity::find()
                    .select_only()
                    .column(event::Column::Id)
                    .filter(event::Column::OrganizationId.eq(&event.organization_id))
                    .filter(event::Column::Id.lt(&event.id))
                    .order_by_desc(event::Column::Id)
                    .limit(1)
                    .into_tuple::<String>()
                    .one(db.conn())
                    .await?
            }
        };
        last.insert(event.organization_id.clone(), Some(event.id.clone()));
        notices.push(Notice { event, prev_id });
    }
    Ok(notices)
}
