//! Lowering checked IR into a [`crate::plan::Plan`].
