//! Files compiled into the binary: the shipped `.mill` loops and the stage
//! assets (entrypoints, skills) deployed into every workspace.
//!
//! Both tables are `(path relative to its directory, bytes)`, sorted by path.

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// A shipped loop file by its path relative to `loops/`.
pub fn loop_source(path: &str) -> Option<&'static str> {
    LOOPS
        .iter()
        .find(|(p, _)| *p == path)
        .and_then(|(_, bytes)| std::str::from_utf8(bytes).ok())
}

/// A shipped asset by its path relative to `assets/`.
pub fn asset(path: &str) -> Option<&'static [u8]> {
    ASSETS.iter().find(|(p, _)| *p == path).map(|(_, bytes)| *bytes)
}
