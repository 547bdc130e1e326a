//! The Concierge server library: config, auth, authorization, domain services, GraphQL and REST v1.

pub mod assistant;
pub mod auth;
pub mod authz;
pub mod cli;
pub mod config;
pub mod cors;
pub mod db;
pub mod downloads;
pub mod egress;
pub mod email_pages;
pub mod error;
pub mod events;
pub mod graphql;
pub mod ids;
pub mod ratelimit;
pub mod redis_link;
pub mod rest;
pub mod secrets;
pub mod service;
pub mod startup;
pub mod state;
pub mod telemetry;
mod text_enum;
pub mod web;
pub mod workers;
