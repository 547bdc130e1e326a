//! Who is calling: turns credentials into a [`Principal`] that every service function takes.

pub mod api_keys;
pub mod credentials;
pub mod key_cache;
pub mod layer;
pub mod passwords;
pub mod proxies;
pub mod roles;
pub mod scopes;
pub mod tokens;

pub use crate::authz::Principal;
pub use roles::{Actor, Origin, Plan, Role};
