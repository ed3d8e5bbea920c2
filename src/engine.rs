//! The tick engine that interprets a plan over a workspace.
