//! Checking ASTs: names, outcomes, exhaustiveness, termination.
