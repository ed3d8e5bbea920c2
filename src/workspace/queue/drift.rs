//! Lineage drift: open work that belongs to a closure target's family but
//! carries another root spec id, so the target would close without it and
//! the work would wait behind it for ever.
//!
//! Input: an open closure target and the queues. Output: [`DriftFinding`]s
//! and a [`RepairPlan`] that relabels the queued and blocked ones; applying
//! the plan rewrites each document atomically. Invariants: the scan is
//! read-only and parses no queued document (the claim index carries each
//! one's root idea and spec); active items and specs are reported, never
//! rewritten (a running stage owns the one, a planner re-derives the other).

use std::path::PathBuf;

use jiff::Timestamp;
use serde::Serialize;

use super::{QueueError, QueueIndex, Queues};
use crate::model::{QueueState, WorkDocument};
use crate::plan::WorkItemKind;
use crate::workspace::closure::ClosureTarget;
use crate::workspace::fsx;

/// Why an item is counted in a target's family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftReason {
    /// It shares the target's root idea but names another root spec.
    SameRootIdeaDifferentRootSpec,
    /// Its root (or spec) id is an alias of the target's root: `idea-idea-X`
    /// for `idea-X`, as early intake spelled it.
    KnownRootSpecAlias,
}

impl DriftReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftReason::SameRootIdeaDifferentRootSpec => "same_root_idea_different_root_spec",
            DriftReason::KnownRootSpecAlias => "known_root_spec_alias",
        }
    }
}

/// One drifted item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DriftFinding {
    pub work_item_kind: WorkItemKind,
    pub work_item_id: String,
    pub state: QueueState,
    /// Relative to the workspace root.
    pub path: String,
    pub expected_root_spec_id: String,
    pub actual_root_spec_id: Option<String>,
    pub root_idea_id: Option<String>,
    pub spec_id: Option<String>,
    pub diagnostic_reason: DriftReason,
}

/// One field a repair rewrites.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub work_item_kind: WorkItemKind,
    pub work_item_id: String,
    pub state: QueueState,
    pub path: String,
    pub field_name: &'static str,
    pub old_value: Option<String>,
    pub new_value: String,
}

/// What a repair of one target's lineage would do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RepairPlan {
    pub root_spec_id: String,
    pub root_idea_id: String,
    pub changes: Vec<Change>,
    /// Findings a repair leaves: active items and specs.
    pub skipped_findings: Vec<DriftFinding>,
}

/// Whether `id` spells `root` the other way (`idea-idea-X` against `idea-X`).
fn is_alias(id: &str, root: &str) -> bool {
    fn canon(mut s: &str) -> &str {
        while s.starts_with("idea-idea-") {
            s = &s["idea-".len()..];
        }
        s
    }
    id != root && canon(id) == canon(root)
}

/// The reason `(root, idea, spec)` drifted from `target`, if it did.
fn drift_reason(
    target: &ClosureTarget,
    root: Option<&str>,
    idea: Option<&str>,
    spec: Option<&str>,
) -> Option<DriftReason> {
    let expected = target.root_spec_id.as_str();
    if root == Some(expected) {
        return None;
    }
    if [root, spec]
        .into_iter()
        .flatten()
        .any(|id| is_alias(id, expected))
    {
        return Some(DriftReason::KnownRootSpecAlias);
    }
    (idea == Some(target.root_idea_id.as_str())).then_some(DriftReason::SameRootIdeaDifferentRootSpec)
}

impl Queues<'_> {
    /// Open work of `target`'s family that names another root spec.
    pub fn lineage_drift(&self, target: &ClosureTarget) -> Result<Vec<DriftFinding>, QueueError> {
        let mut found = Vec::new();
        for kind in [WorkItemKind::Task, WorkItemKind::Spec, WorkItemKind::Incident] {
            let (index, _) = QueueIndex::refresh(self.ws, kind)?;
            for e in index.entries() {
                if let Some(reason) = drift_reason(target, e.root(), e.root_idea(), e.spec()) {
                    let state = QueueState::Queued;
                    found.push(self.finding(
                        target,
                        kind,
                        e.id(),
                        state,
                        e.root(),
                        e.root_idea(),
                        e.spec(),
                        reason,
                    ));
                }
            }
            for state in [QueueState::Active, QueueState::Blocked] {
                for (id, doc) in self.parsed_in(kind, state)? {
                    let (root, idea, spec) =
                        (doc.effective_root_spec_id(), doc.root_idea_id(), doc.spec_id());
                    if let Some(reason) = drift_reason(target, root, idea, spec) {
                        found.push(self.finding(target, kind, &id, state, root, idea, spec, reason));
                    }
                }
            }
        }
        Ok(found)
    }

    #[allow(clippy::too_many_arguments)]
    fn finding(
        &self,
        target: &ClosureTarget,
        kind: WorkItemKind,
        id: &str,
        state: QueueState,
        root: Option<&str>,
        idea: Option<&str>,
        spec: Option<&str>,
        reason: DriftReason,
    ) -> DriftFinding {
        let path = self.ws.paths().document(kind, state, id);
        DriftFinding {
            work_item_kind: kind,
            work_item_id: id.to_string(),
            state,
            path: self.ws.relative(&path),
            expected_root_spec_id: target.root_spec_id.clone(),
            actual_root_spec_id: root.map(str::to_string),
            root_idea_id: idea.map(str::to_string),
            spec_id: spec.map(str::to_string),
            diagnostic_reason: reason,
        }
    }

    /// The changes that bring `target`'s drifted queued and blocked tasks
    /// and incidents back into its family.
    pub fn repair_plan(&self, target: &ClosureTarget) -> Result<RepairPlan, QueueError> {
        let root = &target.root_spec_id;
        let mut plan = RepairPlan {
            root_spec_id: root.clone(),
            root_idea_id: target.root_idea_id.clone(),
            changes: Vec::new(),
            skipped_findings: Vec::new(),
        };
        for f in self.lineage_drift(target)? {
            let repairable = matches!(f.state, QueueState::Queued | QueueState::Blocked)
                && matches!(f.work_item_kind, WorkItemKind::Task | WorkItemKind::Incident);
            if !repairable {
                plan.skipped_findings.push(f);
                continue;
            }
            let doc = WorkDocument::load(&self.ws.root().join(&f.path), Some(f.work_item_kind))?;
            let change = |field_name, old_value: Option<&str>| Change {
                work_item_kind: f.work_item_kind,
                work_item_id: f.work_item_id.clone(),
                state: f.state,
                path: f.path.clone(),
                field_name,
                old_value: old_value.map(str::to_string),
                new_value: root.clone(),
            };
            if doc.root_spec_id() != Some(root.as_str()) {
                plan.changes.push(change("root_spec_id", doc.root_spec_id()));
            }
            // A task's spec id that merely spelled the root another way.
            let spec = doc
                .spec_id()
                .filter(|s| f.work_item_kind == WorkItemKind::Task && is_alias(s, root));
            if let Some(spec) = spec {
                plan.changes.push(change("spec_id", Some(spec)));
            }
        }
        Ok(plan)
    }

    /// Rewrites each document the plan changes; returns how many.
    pub fn apply_repair(&self, plan: &RepairPlan) -> Result<usize, QueueError> {
        let mut paths: Vec<&str> = plan.changes.iter().map(|c| c.path.as_str()).collect();
        paths.dedup();
        for rel in &paths {
            let path = self.ws.root().join(rel);
            let mut doc = WorkDocument::load(&path, None)?;
            for c in plan.changes.iter().filter(|c| c.path == *rel) {
                let value = Some(c.new_value.clone());
                match (&mut doc, c.field_name) {
                    (WorkDocument::Task(t), "root_spec_id") => t.root_spec_id = value,
                    (WorkDocument::Task(t), "spec_id") => t.spec_id = value,
                    (WorkDocument::Incident(i), "root_spec_id") => i.root_spec_id = value,
                    _ => {}
                }
            }
            fsx::write_atomic(&path, doc.render().as_bytes())?;
        }
        Ok(paths.len())
    }
}

/// What `queue repair-lineage` did.
#[derive(Clone, Debug, Serialize)]
pub struct Repair {
    pub plan: RepairPlan,
    pub applied: bool,
    /// Distinct documents rewritten (0 in a preview).
    pub documents: usize,
    /// The reports written: the plan, and with `apply` the applied plan.
    pub reports: Vec<PathBuf>,
}

impl Queues<'_> {
    /// Plans the repair of `root_spec_id`'s lineage, records the plan under
    /// `arbiter/diagnostics/lineage-repairs/`, and with `apply` carries it
    /// out and records that too.
    pub fn repair_lineage(&self, root_spec_id: &str, apply: bool) -> Result<Repair, QueueError> {
        let missing = |detail: String| QueueError::NoClosureTarget {
            root: root_spec_id.to_string(),
            detail,
        };
        let target = ClosureTarget::load(self.ws, root_spec_id)
            .map_err(|e| missing(e.to_string()))?
            .ok_or_else(|| missing("arbiter/targets/ has no file for it".into()))?;
        let plan = self.repair_plan(&target)?;
        let mut reports = vec![self.write_report(&plan, false)?];
        let mut documents = 0;
        if apply {
            documents = self.apply_repair(&plan)?;
            reports.push(self.write_report(&plan, true)?);
        }
        Ok(Repair {
            plan,
            applied: apply,
            documents,
            reports,
        })
    }

    fn write_report(&self, plan: &RepairPlan, applied: bool) -> Result<PathBuf, QueueError> {
        let now = Timestamp::now();
        let name = format!(
            "{}-{:08x}.json",
            now.strftime("%Y%m%dT%H%M%SZ"),
            fastrand::u32(..)
        );
        let path = self.ws.paths().lineage_repairs_dir().join(name);
        let mut report = serde_json::json!({
            "schema_version": 1,
            "kind": "closure_lineage_repair_plan",
            "created_at": now,
            "applied": applied,
        });
        if let (Some(map), Ok(serde_json::Value::Object(fields))) =
            (report.as_object_mut(), serde_json::to_value(plan))
        {
            map.extend(fields);
        }
        let text = serde_json::to_string_pretty(&report).unwrap_or_default();
        fsx::write_atomic(&path, text.as_bytes())?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::is_alias;

    #[test]
    fn a_doubled_idea_prefix_is_an_alias_and_nothing_else_is() {
        assert!(is_alias("idea-idea-x", "idea-x"));
        assert!(is_alias("idea-x", "idea-idea-x"));
        assert!(is_alias("idea-idea-idea-x", "idea-x"));
        assert!(!is_alias("idea-x", "idea-x"));
        assert!(!is_alias("x", "idea-x"));
        assert!(!is_alias("idea-y", "idea-x"));
    }
}
