//! Events: the outbox written in each change's transaction, the stream read back, the bus that announces them
//! to every instance, live followers (subscriptions and the widget's stream), webhook endpoints and their
//! delivery queue, and the integration jobs each event owes.

pub mod bus;
pub mod deliveries;
pub mod feed;
pub mod follow;
pub mod jobs;
pub mod names;
pub mod outbox;
pub mod queue;
pub mod table_watch;
pub mod webhooks;
