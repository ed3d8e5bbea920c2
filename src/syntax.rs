//! Parsing `.mill` text into an AST with spans.
