//! The closed vocabularies shared by the language, the plan and the runtime.
//! Their string forms are contracts: they appear in `.mill` files, in plan
//! JSON, in work documents and in status output.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! vocab {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Every value's string form, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($text => Ok($name::$variant),)+ _ => Err(()) }
            }
        }
    };
}

vocab! {
    /// A lane of work. Execution runs tasks, planning runs specs, incidents
    /// and closure passes, learning runs learning requests.
    Plane { Execution => "execution", Planning => "planning", Learning => "learning" }
}

vocab! {
    /// The kind of a queued work document.
    WorkItemKind { Task => "task", Spec => "spec", Incident => "incident", LearningRequest => "learning_request" }
}

vocab! {
    /// What a stage outcome means for the work item; also the class of a
    /// terminal.
    ResultClass {
        Success => "success",
        FollowupNeeded => "followup_needed",
        RecoverableFailure => "recoverable_failure",
        EscalatePlanning => "escalate_planning",
        Blocked => "blocked",
    }
}

vocab! {
    /// Reasoning effort passed to harnesses that support it.
    Effort { Low => "low", Medium => "medium", High => "high", Xhigh => "xhigh" }
}

vocab! {
    /// A stage kind's special duty. `closure` stages judge a whole lineage,
    /// `repair` stages receive runtime-owned post-stage errors, `escalation`
    /// stages decide whether local recovery is over.
    Role { Closure => "closure", Repair => "repair", Escalation => "escalation" }
}

vocab! {
    /// What a learning request asks for.
    LearningAction {
        Create => "create",
        Improve => "improve",
        Promote => "promote",
        Export => "export",
        Install => "install",
    }
}

vocab! {
    /// When a closure pass may start.
    ClosureTrigger { BacklogDrained => "backlog_drained" }
}

vocab! {
    /// Whose lifetime a counter follows: a work item's (cleared when the item
    /// leaves its plane) or a closure target's.
    CounterScope { Item => "item", Target => "target" }
}

vocab! {
    /// A stage-kind setting a mode or node may override unless the stage
    /// declares it `fixed`.
    Overridable {
        Entrypoint => "entrypoint",
        Runner => "runner",
        Model => "model",
        Effort => "effort",
        Timeout => "timeout",
        Skills => "skills",
    }
}

impl Plane {
    /// The order the reference projects a foreground run in: planning first.
    pub const FOREGROUND_ORDER: [Plane; 3] = [Plane::Planning, Plane::Execution, Plane::Learning];
}

impl WorkItemKind {
    /// The plane whose queue holds this kind of work.
    pub fn plane(self) -> Plane {
        match self {
            WorkItemKind::Task => Plane::Execution,
            WorkItemKind::Spec | WorkItemKind::Incident => Plane::Planning,
            WorkItemKind::LearningRequest => Plane::Learning,
        }
    }
}

/// Runner names the runtime knows how to dispatch to.
pub const RUNNERS: &[&str] = &[
    "codex_cli",
    "claude_code",
    "pi_rpc",
    "gemini_cli",
    "command",
    "scripted",
];

/// The runner used when nothing binds one.
pub const DEFAULT_RUNNER: &str = "codex_cli";

/// Stage timeout when nothing sets one, in seconds (the reference's hour).
pub const DEFAULT_TIMEOUT_SECONDS: u64 = 3600;

/// The longest stage timeout a loop or `millrace.toml` may set: a week. A
/// stage that needs longer is a campaign of its own.
pub const MAX_TIMEOUT_SECONDS: u64 = 7 * 24 * 3600;

/// `millrace.toml` keys a counter may take its limit from.
pub const COUNTER_CONFIG_KEYS: &[&str] = &[
    "recovery.max_fix_cycles",
    "recovery.max_troubleshoot_attempts_before_consult",
    "recovery.max_mechanic_attempts",
    "recovery.max_consultant_invocations",
    "recovery.max_closure_attempts",
];
