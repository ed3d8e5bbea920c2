//! The checker's warnings: things that are not wrong, but likely not meant.
//! Each declares its severity; `--deny-warnings` promotes them.

use miette::SourceSpan;

/// One checker warning.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CheckWarning {
    /// A node no entry, route or closure can reach.
    #[error("node `{node}` is never reached")]
    #[diagnostic(
        code(mill::check::unreachable_node),
        severity(Warning),
        help("route an outcome to it, or remove it")
    )]
    UnreachableNode {
        node: String,
        #[label(primary, "unreachable")]
        span: SourceSpan,
    },

    /// A terminal no route finishes at.
    #[error("terminal `{name}` is never reached")]
    #[diagnostic(
        code(mill::check::unreached_terminal),
        severity(Warning),
        help("finish a route at it, or remove it")
    )]
    UnreachedTerminal {
        name: String,
        #[label(primary, "never reached")]
        span: SourceSpan,
    },

    /// A counter nothing counts.
    #[error("counter `{name}` is never used")]
    #[diagnostic(
        code(mill::check::unused_counter),
        severity(Warning),
        help("guard a route with `count {name} else <destination>`, or remove it")
    )]
    UnusedCounter {
        name: String,
        #[label(primary, "never counted")]
        span: SourceSpan,
    },
}
