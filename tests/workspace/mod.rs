//! The filesystem-backed workspace: config, documents, queues, durable
//! state, and the operator commands built on them.

mod documents;
