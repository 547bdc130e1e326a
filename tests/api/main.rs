//! End-to-end tests of the `concierge` server: one binary, a real server and a fresh database per test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

mod fake_freshdesk;
mod fake_hubspot;
mod fake_intercom;
mod fake_openai;
mod fake_salesforce;
mod fake_zendesk;
mod fake_zoho;

mod analytics;
mod assistant;
mod attachments;
mod audit;
mod auth;
mod authorization;
mod authz_matrix;
mod bad_input;
mod cli;
mod console;
mod console_browser;
mod conventions;
mod conversations;
mod crm_sync;
mod crm_vendors;
mod docs;
mod embed;
mod events;
mod freshdesk;
mod graphql;
mod health;
mod helpdesk;
mod integrations;
mod intercom;
mod knowledge_base;
mod members;
mod openapi;
mod pacing;
mod peers;
mod plans;
mod query_cost;
mod rate_limits;
mod retrieval;
mod schema;
mod service_keys;
mod sessions;
mod shopify;
mod smtp;
mod sso;
mod subscriptions;
mod webhook_delivery;
mod webhooks;
mod widget;
mod widget_browser;
mod wordpress;
