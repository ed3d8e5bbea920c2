//! Usage governance's two files in `state/`: the token ledger
//! (`usage_governance_ledger.jsonl`) and the last verdict
//! (`usage_governance_state.json`).
//!
//! Input: ledger entries and verdicts built by `crate::governance`.
//! Output: the entries read back (damaged lines reported, never fatal), the
//! verdict read back for the runtime and for `millrace status`, and the
//! stage results on disk that the ledger has not counted yet.
//!
//! Invariants:
//! - the ledger is only appended to, one fsynced line per entry; a torn
//!   last line (a crash mid-write) is skipped and reported, and the next
//!   append starts on a fresh line, so one bad line never hides another;
//! - an entry's `dedupe_key` is the workspace-relative path of the stage
//!   result it counts, so a result is counted at most once whoever finds it;
//! - the verdict file is replaced atomically.

mod ledger;
mod state;

pub use ledger::{DamagedLine, LedgerEntry, LedgerRead, append_entry, read_ledger, unrecorded_results};
pub use state::{
    BlockerRecord, GOVERNANCE_STATE_VERSION, GovernanceState, QUOTA_EXHAUSTED_RULE_ID, QuotaState,
    QuotaStatus, WindowReading, all_lift_at,
};

use super::fsx::FsError;

/// Why a governance file cannot be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum UsageError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Fs(#[from] FsError),

    /// The verdict file does not parse; the runtime rewrites it at its next
    /// evaluation.
    #[error("the usage governance state `{}` is invalid: {detail}", path.display())]
    #[diagnostic(
        code(mill::governance::state_invalid),
        help(
            "the running daemon rewrites it at its next evaluation; or delete it and run `millrace run once`"
        )
    )]
    StateInvalid {
        path: std::path::PathBuf,
        detail: String,
    },
}
