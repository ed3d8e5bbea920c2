//! Harness runners: from a stage request to a normalized stage result.
