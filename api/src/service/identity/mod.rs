//! Identity: organizations, their members, sessions, API keys and single sign-on.

pub mod api_keys;
pub mod bootstrap;
pub mod key_usage;
pub mod members;
pub mod organizations;
pub mod sessions;
pub mod signin;
pub mod sso;
