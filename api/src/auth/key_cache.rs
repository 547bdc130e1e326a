//! API keys recently read from the database, kept a few seconds so that a request with one costs no SQL.
//!
//! An entry is used only while nothing changed in its organization's access since it was read (the bus's
//! [`AccessClock`]): a key revoked or rotated, a role or a plan changed on any instance sharing Redis stops
//! it at once. Without Redis another instance's change (or the command line's) applies within [`TTL`].
//! What depends on the time (expiry, a rotated secret's grace period, the networks allowed) is checked on
//! every request by the caller.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use entities::api_key;

use crate::events::bus::AccessClock;

/// How long an entry is used at most.
pub const TTL: Duration = Duration::from_secs(5);
/// Entries kept at most; past this the expired ones go, then all.
const CAPACITY: usize = 10_000;

/// A key as read, with its organization's plan.
#[derive(Clone, Debug)]
pub struct KnownKey {
    pub key: api_key::Model,
    pub plan: String,
}

struct Entry {
    known: KnownKey,
    /// The access clock's tick when the read began.
    since: u64,
    read_at: Instant,
}

/// Keys by the hash of the secret they were presented with.
#[derive(Default)]
pub struct KeyCache {
    entries: RwLock<HashMap<String, Entry>>,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache").finish_non_exhaustive()
    }
}

impl KeyCache {
    /// The key presented with the secret of this hash, when it was read less than [`TTL`] ago and nothing
    /// changed in its organization's access since.
    pub fn get(&self, secret_hash: &str, clock: &AccessClock) -> Option<KnownKey> {
        let entries = self.entries.read().ok()?;
        let entry = entries.get(secret_hash)?;
        (entry.read_at.elapsed() < TTL
            && clock.unchanged_since(&entry.known.key.organization_id, entry.since))
        .then(|| entry.known.clone())
    }

    /// Keeps a key read from the database, its read having begun at tick `since`.
    pub fn put(&self, secret_hash: String, known: KnownKey, since: u64) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= CAPACITY {
            entries.retain(|_, e| e.read_at.elapsed() < TTL);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            secret_hash,
            Entry {
                known,
                since,
                read_at: Instant::now(),
            },
        );
    }

    /// Forgets every key.
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(organization_id: &str) -> KnownKey {
        let now = chrono::Utc::now();
        KnownKey {
            key: api_key::Model {
                id: "key_1".into(),
                organization_id: organization_id.into(),
                name: "k".into(),
                prefix: "ck_1234".into(),
                secret_hash: "h".into(),
                previous_secret_hash: None,
                previous_expires_at: None,
                role: "admin".into(),
                scopes: None,
                allowed_cidrs: None,
                expires_at: None,
                created_by: None,
                created_at: now,
                last_used_at: None,
                revoked_at: None,
                request_count: 0,
            },
            plan: "premium".into(),
        }
    }

    #[test]
    fn an_entry_serves_until_its_organizations_access_changes_after_the_read_began() {
        let (cache, clock) = (KeyCache::default(), AccessClock::default());
        let since = clock.now();
        cache.put("h".into(), key("org_a"), since);
        assert!(cache.get("h", &clock).is_some());
        assert!(cache.get("other", &clock).is_none());
        // Another organization's change leaves it.
        clock.changed("org_b");
        assert!(cache.get("h", &clock).is_some());
        clock.changed("org_a");
        assert!(cache.get("h", &clock).is_none());
        // A change announced while the read was under way: what was read may be from before it.
        let since = clock.now();
        clock.changed("org_a");
        cache.put("h".into(), key("org_a"), since);
        assert!(cache.get("h", &clock).is_none());
        // A read begun after the change is current; a change everywhere stops it.
        cache.put("h".into(), key("org_a"), clock.now());
        assert!(cache.get("h", &clock).is_some());
        clock.changed_everywhere();
        assert!(cache.get("h", &clock).is_none());
        cache.put("h".into(), key("org_a"), clock.now());
        cache.clear();
        assert!(cache.get("h", &clock).is_none());
    }
}
