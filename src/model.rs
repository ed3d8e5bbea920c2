//! The runtime's vocabulary: the data the engine, the runners, the
//! workspace and the operator surfaces all speak of.
//!
//! Input: nothing; this is a leaf below everything but `plan`. Output: the
//! runtime snapshot and its active runs, work documents and their queue
//! states, the stage request a runner gets and the stage result it returns,
//! the runtime events, and the identifiers that may become file names.
//!
//! Invariants: pure data and pure checks only (no I/O, no clock beyond
//! minting ids); every type's JSON form is a file format or a wire
//! contract, so a field is renamed only with a schema version.

pub mod document;
pub mod event;
pub mod governance;
pub mod ids;
pub mod request;
pub mod result;
pub mod settings;
pub mod snapshot;

pub use document::*;
pub use event::Event;
pub use request::*;
pub use result::*;
pub use snapshot::*;
