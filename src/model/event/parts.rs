//! The pieces events are made of: a work item as an object, a routing
//! record (also written to `runs/<run>/routing.<rid>.json`), a ledger line
//! reference.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::FailureClass;
use crate::plan::{Plane, ResultClass, WorkItemKind};

/// A work item as `{"kind": ..., "id": ...}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkItemObj {
    pub kind: WorkItemKind,
    pub id: String,
}

/// An active run a starting process found and continues.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumedRun {
    pub plane: Plane,
    pub node: String,
    pub run_id: String,
}

/// Why a stage's outcome led where it did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoutingRecord {
    pub request_id: String,
    pub run_id: String,
    pub plane: Plane,
    pub node: String,
    pub outcome: String,
    pub result_class: ResultClass,
    pub failure_class: Option<FailureClass>,
    pub target: RouteTarget,
    pub reason: String,
    /// The counter the route counted, with its new value.
    pub counted: Option<(String, u32)>,
    /// Counters found spent on the way.
    pub exhausted: Vec<String>,
    /// The structured-result key that chose a resume target, and its value.
    pub resumed_by: Option<(String, String)>,
    /// The item's counters after the route.
    pub counters: BTreeMap<String, u32>,
    pub plan_id: String,
    pub decided_at: Timestamp,
}

/// Where a routed outcome leads: the next node, or a terminal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RouteTarget {
    Node { node: String },
    Terminal { terminal: String, class: ResultClass },
}

/// A usage-ledger line: its number, or `last` for a torn final line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LedgerLine {
    Number(usize),
    Word(String),
}

/// `Option<Option<T>>` for a key that may be absent, `null` or a value:
/// absent is `None` (skipped when writing), `null` is `Some(None)`.
pub(super) mod present {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<T: Serialize, S: Serializer>(
        value: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}
