//! The pure engine without I/O: an in-memory driver ([`sim`]) plays
//! scripted stage outcomes through `step` and the tests read the stage
//! sequences, queue states and effects it produced.

mod cases;
mod gates;
mod sim;
