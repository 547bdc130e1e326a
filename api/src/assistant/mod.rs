//! The assistant engine: retrieval from the knowledge base (and, with issue 5's later parts, answering).

pub mod retrieval;
