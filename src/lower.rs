//! Lowering one mode of a checked program into a [`Plan`].
//!
//! Input: a [`Program`] (already checked: every name resolves, every route is
//! complete), a mode name or alias, and the plan-shaping settings of
//! `millrace.toml` ([`PlanSettings`]). Output: a sealed plan whose tables
//! follow the invariants of [`crate::plan`], or a [`LowerError`] when the
//! settings contradict the program.
//!
//! Layout: loops in plane order; each loop's nodes, terminals and counters
//! contiguous; each node's edges contiguous and in outcome order; a branch's
//! fallback always emitted after it. Bindings are resolved here once, so the
//! runtime never looks at modes.

mod bindings;
mod error;
mod settings;

use std::collections::BTreeMap;

pub use crate::plan::{PlanSettings, StageOverride};
pub use error::LowerError;

use crate::check::hir::{self, Program};
use crate::diag::{Sources, Span, did_you_mean};
use crate::plan::*;

/// Lowers `mode` (a mode name or alias) into a sealed plan.
pub fn lower(
    program: &Program,
    sources: &Sources,
    mode: &str,
    settings: &PlanSettings,
) -> Result<Plan, LowerError> {
    let Some(mode) = program.mode(mode) else {
        let known: Vec<&str> = program
            .modes
            .iter()
            .map(|m| m.name.as_str())
            .chain(program.aliases.keys().map(String::as_str))
            .collect();
        let help = did_you_mean(mode, known.iter().copied())
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| format!("known modes: {}", known.join(", ")));
        return Err(LowerError::UnknownMode {
            name: mode.into(),
            help,
        });
    };
    settings::validate(settings, program)?;
    let mut emit = Emit::new(program, sources, mode, settings);
    for (plane, loop_index) in &mode.planes {
        emit.add_loop(*plane, &program.loops[*loop_index])?;
    }
    emit.add_triggers();
    Ok(emit.finish())
}

/// Builder state: the plan under construction and index maps from the
/// program's indices to plan ids.
struct Emit<'a> {
    program: &'a Program,
    sources: &'a Sources,
    mode: &'a hir::Mode,
    settings: &'a PlanSettings,
    plan: Plan,
    /// Program stage index → plan stage id.
    stage_ids: BTreeMap<usize, StageId>,
}

impl<'a> Emit<'a> {
    fn new(
        program: &'a Program,
        sources: &'a Sources,
        mode: &'a hir::Mode,
        settings: &'a PlanSettings,
    ) -> Self {
        let plan = Plan {
            schema_version: SCHEMA_VERSION,
            plan_id: String::new(),
            fingerprint: String::new(),
            mode: mode.name.clone(),
            compiled_at: None,
            loops: IdVec::new(),
            stages: IdVec::new(),
            outcomes: IdVec::new(),
            nodes: IdVec::new(),
            edges: IdVec::new(),
            branches: IdVec::new(),
            terminals: IdVec::new(),
            counters: IdVec::new(),
            triggers: Vec::new(),
            concurrency: mode.concurrency.clone(),
            inputs: PlanInputs::default(),
            source_map: SourceMap {
                files: sources.files().map(|(_, f)| f.name.clone()).collect(),
                ..Default::default()
            },
        };
        Self {
            program,
            sources,
            mode,
            settings,
            plan,
            stage_ids: BTreeMap::new(),
        }
    }

    fn loc(&self, span: Span) -> Loc {
        let at = self.sources.location(span.start);
        let file = self.sources.file_of(span.start).0;
        Loc {
            file,
            line: at.line,
            column: at.column,
        }
    }

    fn stage_id(&mut self, index: usize) -> StageId {
        if let Some(id) = self.stage_ids.get(&index) {
            return *id;
        }
        let stage = &self.program.stages[index];
        let id = StageId::from(self.plan.stages.len());
        let first = self.plan.outcomes.len();
        for outcome in &stage.outcomes {
            self.plan.outcomes.push(OutcomeRow {
                stage: id,
                name: outcome.name.clone(),
                classes: outcome.classes.clone(),
            });
        }
        self.plan.stages.push(StageRow {
            name: stage.name.clone(),
            plane: stage.plane,
            title: stage.title.clone(),
            entrypoint: stage.entrypoint.clone(),
            skills: stage.skills.clone(),
            suggested_skills: stage.suggests.clone(),
            running: stage.running.clone(),
            outcomes: IdRange::new(first, self.plan.outcomes.len()),
            emits: stage.emits.clone(),
            accepts: stage.accepts.clone(),
            role: stage.role,
            gate: stage.gate.as_ref().map(|g| GateRow {
                question: g.question.clone(),
                shows: g.shows.clone(),
                timeout: g.timeout.map(|(seconds, outcome)| GateTimeout {
                    seconds,
                    outcome: OutcomeId::from(first + outcome),
                }),
            }),
        });
        self.plan.source_map.stages.push(self.loc(stage.span));
        self.stage_ids.insert(index, id);
        id
    }

    fn add_loop(&mut self, plane: Plane, l: &hir::Loop) -> Result<(), LowerError> {
        let loop_id = LoopId::from(self.plan.loops.len());
        let node_base = self.plan.nodes.len();
        let terminal_base = self.plan.terminals.len();
        let counter_base = self.plan.counters.len();
        for counter in &l.counters {
            let limits = self.settings.counter_limits();
            let limit = counter.config_key.as_ref().and_then(|k| limits.get(k)).copied();
            self.plan.counters.push(CounterRow {
                name: counter.name.clone(),
                loop_id,
                limit: limit.unwrap_or(counter.limit),
                scope: counter.scope,
                config_key: counter.config_key.clone(),
            });
        }
        for t in &l.terminals {
            self.plan.terminals.push(TerminalRow {
                name: t.name.clone(),
                loop_id,
                class: t.class,
                writes: t.writes.clone(),
                opens_incident: t.opens_incident,
                emits: t.emits.clone(),
            });
            self.plan.source_map.terminals.push(self.loc(t.span));
        }
        let ids = LoopIds {
            node_base,
            terminal_base,
            counter_base,
        };
        for node in &l.nodes {
            self.add_node(loop_id, plane, node, &ids)?;
        }
        let node_id = |n: usize| NodeId::from(node_base + n);
        let repair =
            (0..l.nodes.len()).find(|n| self.program.stages[l.nodes[*n].stage].role == Some(Role::Repair));
        self.plan.loops.push(LoopRow {
            name: l.name.clone(),
            plane,
            nodes: IdRange::new(node_base, self.plan.nodes.len()),
            terminals: IdRange::new(terminal_base, self.plan.terminals.len()),
            counters: IdRange::new(counter_base, self.plan.counters.len()),
            entries: l
                .entries
                .iter()
                .map(|(kind, n)| EntryRow {
                    kind: *kind,
                    node: node_id(*n),
                })
                .collect(),
            closure: l.closure.as_ref().map(|c| ClosureRow {
                node: node_id(c.node),
                trigger: c.trigger,
                counter: c.counter.map(|i| CounterId::from(counter_base + i)),
            }),
            repair: repair.map(node_id),
        });
        Ok(())
    }

    fn add_node(
        &mut self,
        loop_id: LoopId,
        plane: Plane,
        node: &hir::Node,
        ids: &LoopIds,
    ) -> Result<(), LowerError> {
        let stage = self.stage_id(node.stage);
        let outcome_base = self.plan.stages[stage].outcomes.start as usize;
        let resolved = bindings::resolve(self.program, self.mode, self.settings, node)?;
        let node_id = NodeId::from(self.plan.nodes.len());
        let first_edge = self.plan.edges.len();
        for route in &node.routes {
            let branch = self.add_branch(&route.branch, ids);
            self.plan.edges.push(EdgeRow {
                node: node_id,
                outcome: OutcomeId::from(outcome_base + route.outcome),
                branch,
                resets: route
                    .resets
                    .iter()
                    .map(|c| CounterId::from(ids.counter_base + c))
                    .collect(),
            });
            self.plan.source_map.edges.push(self.loc(route.span));
        }
        self.plan.nodes.push(NodeRow {
            name: node.name.clone(),
            loop_id,
            plane,
            stage,
            edges: IdRange::new(first_edge, self.plan.edges.len()),
            // A gate reads no entrypoint and no skills, whatever a wildcard
            // binding says.
            entrypoint: if self.plan.stages[stage].gate.is_some() {
                String::new()
            } else {
                resolved.entrypoint
            },
            attached_skills: resolved.attached_skills,
            runner: resolved.runner,
            model: resolved.model,
            effort: resolved.effort,
            timeout_seconds: resolved.timeout_seconds,
        });
        self.plan.source_map.nodes.push(self.loc(node.span));
        Ok(())
    }

    /// Emits a branch and then its fallback, so `otherwise` always points
    /// forward.
    fn add_branch(&mut self, branch: &hir::Branch, ids: &LoopIds) -> BranchId {
        let dest = match &branch.dest {
            hir::Dest::Node(n) => Dest::Node(NodeId::from(ids.node_base + n)),
            hir::Dest::Finish(t) => Dest::Finish(TerminalId::from(ids.terminal_base + t)),
            hir::Dest::Resume {
                keys,
                default,
                allowed,
            } => Dest::Resume(Resume {
                keys: keys.clone(),
                default: NodeId::from(ids.node_base + default),
                allowed: allowed.iter().map(|n| NodeId::from(ids.node_base + n)).collect(),
            }),
        };
        let id = self.plan.branches.push(BranchRow { dest, guard: None });
        if let Some((counter, otherwise)) = &branch.guard {
            let otherwise = self.add_branch(otherwise, ids);
            if let Some(row) = self.plan.branches.get_mut(id) {
                row.guard = Some(Guard {
                    counter: CounterId::from(ids.counter_base + counter),
                    otherwise,
                });
            }
        }
        id
    }

    /// Triggers whose stages are both in this plan.
    fn add_triggers(&mut self) {
        for t in &self.mode.triggers {
            let (Some(source), Some(target)) = (
                self.stage_ids.get(&t.source_stage),
                self.stage_ids.get(&t.target_stage),
            ) else {
                continue;
            };
            let base = self.plan.stages[*source].outcomes.start as usize;
            self.plan.triggers.push(TriggerRow {
                rule_id: t.rule_id.clone(),
                source_plane: t.source_plane,
                source_stage: *source,
                outcomes: t.outcomes.iter().map(|o| OutcomeId::from(base + o)).collect(),
                target_stage: *target,
                action: t.action,
            });
        }
    }

    fn finish(mut self) -> Plan {
        self.plan.inputs.sources = self
            .sources
            .files()
            .map(|(_, f)| InputFile {
                path: f.name.clone(),
                sha256: sha256_hex(f.text.as_bytes()),
                size: f.text.len() as u64,
                mtime_ns: 0,
            })
            .collect();
        self.plan.inputs.config = self.settings.fingerprint();
        self.plan.seal();
        self.plan
    }
}

/// Where one loop's rows start in the plan's tables.
struct LoopIds {
    node_base: usize,
    terminal_base: usize,
    counter_base: usize,
}

#[cfg(test)]
mod tests;
