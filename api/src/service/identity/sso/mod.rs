//! Single sign-on: connections (SAML, OpenID Connect, OAuth 2.0) with attribute and role mapping, just-in-time
//! provisioning, enforcement, and the OIDC and OAuth 2.0 sign-in flows from the login redirect to a session
//! (SAML's own steps are in `service::identity::sso::saml`, which shares the request store and the sign-in here).
//!
//! The OIDC flow is the authorization-code flow with PKCE (S256), `state` and `nonce`. The login step stores the
//! request (keyed by the hash of its state, with the nonce and the sealed PKCE verifier, for ten minutes) in
//! the database, so any instance can finish it, and binds it to the browser with a short-lived cookie holding
//! the state. The callback checks that cookie, uses the stored request once, exchanges the code with the
//! verifier, and has `openidconnect` verify the id_token: signature against the provider's current JWKS
//! (discovered afresh at each sign-in, so rotated keys are picked up; `alg: none` is refused), issuer,
//! audience, expiry and nonce. The verified claims then give the email (which must be verified when the
//! provider says so, and in one of the connection's domains), the name and the groups, which the ordered
//! role rules map to a role, re-applied at every sign-in and audit-logged when it changes.

pub mod claims;
pub mod connections;
pub mod diagnostics;
pub mod flow;
pub mod idp;
pub mod oauth2;
pub mod oidc;
pub mod provisioning;
pub mod refusal;
pub mod requests;
pub mod saml;
pub mod settings;
pub mod validation;
