//! The data every GraphQL execution carries: the database, the caller and its DataLoaders, and shared state.

use crate::auth::Principal;
use crate::graphql::loaders;
use crate::state::AppState;

/// What every resolver may read for `principal`: the database, the caller, its DataLoaders, the sealer, the
/// assistant engine and the settings (for a request over HTTP and a connection over WebSocket alike).
pub(crate) fn data(state: &AppState, principal: Principal) -> async_graphql::Data {
    let mut data = async_graphql::Data::default();
    data.insert(loaders::request_loader(state.db.clone(), principal.clone()));
    data.insert(state.db.clone());
    data.insert(principal);
    data.insert(state.sealer.clone());
    data.insert(state.engine.clone());
    data.insert(state.settings.clone());
    data.insert(crate::config::PublicUrl(state.public_url.clone()));
    data.insert(state.idp.clone());
    data.insert(state.vendors.clone());
    data.insert(state.attachments.clone());
    data.insert(state.rate_limits.clone());
    data.insert(crate::graphql::cost::Meter::default());
    data
}
