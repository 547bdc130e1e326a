//! Background work that reads durable state and acts on it: webhook delivery.

pub mod webhooks;
