//! The state shared by every request: database, GraphQL schema and settings.

use std::sync::Arc;

use crate::config::Settings;
use crate::db::Db;
use crate::graphql::AppSchema;

/// Cloned into every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub schema: AppSchema,
    pub settings: Arc<Settings>,
}
