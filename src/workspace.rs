//! The filesystem-backed workspace: layout, config, work documents, queues
//! and durable runtime state.
