//! The assistant engine: retrieval, message analysis, the AI provider and the rules that tie them together.

pub mod analysis;
pub mod analyzer;
pub mod embedding;
pub mod engine;
pub mod index;
pub mod provider;
pub mod ranking;
pub mod remote;
pub mod retrieval;
pub mod settings;
pub(crate) mod spelling;
pub mod vectors;
pub(crate) mod worker;

pub use engine::Engine;
