//! Casbin decisions already made, kept until a link changes: the matcher is a script evaluated on every call.

use std::collections::HashMap;
use std::sync::Mutex;

/// Decisions kept at most; past this they start afresh.
const KEPT: usize = 100_000;

/// Allowed or not, by subject, domain, object and action.
#[derive(Default)]
pub(super) struct Decisions {
    known: Mutex<HashMap<String, bool>>,
}

/// The key of one request to the enforcer.
pub(super) fn key(subject: &str, domain: &str, object: &str, action: &str) -> String {
    format!("{subject}\u{1f}{domain}\u{1f}{object}\u{1f}{action}")
}

impl Decisions {
    pub(super) fn get(&self, key: &str) -> Option<bool> {
        self.known.lock().ok()?.get(key).copied()
    }

    pub(super) fn put(&self, key: String, allowed: bool) {
        if let Ok(mut known) = self.known.lock() {
            if known.len() >= KEPT {
                known.clear();
            }
            known.insert(key, allowed);
        }
    }

    /// Forgets every decision (a link changed: any of them may depend on it).
    pub(super) fn clear(&mut self) {
        if let Ok(known) = self.known.get_mut() {
            known.clear();
        }
    }
}
