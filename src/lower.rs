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
            entrypoint: resolved.entrypoint,
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
mod tests {
    use super::*;
    use crate::diag::{Diagnostics, Layer};

    fn program(extra: &str) -> (Program, Sources) {
        let mut sources = Sources::new();
        crate::check::add_builtin_sources(&mut sources);
        if !extra.is_empty() {
            sources.add("extra.mill", extra, Layer::Workspace);
        }
        let mut diags = Diagnostics::new();
        let program = crate::check::check_sources(&sources, &mut diags).expect("sources check clean");
        (program, sources)
    }

    fn node<'p>(plan: &'p Plan, plane: Plane, name: &str) -> &'p NodeRow {
        &plan.nodes[plan.node_named(plane, name).expect("node exists")]
    }

    #[test]
    fn plan_ids_are_stable_and_aliases_share_them() {
        let (p, s) = program("");
        let a = lower(&p, &s, "default_codex", &PlanSettings::default()).unwrap();
        let b = lower(&p, &s, "standard_plain", &PlanSettings::default()).unwrap();
        assert_eq!(a.plan_id, b.plan_id);
        assert_eq!(a.fingerprint, a.compute_fingerprint());
        a.validate().unwrap();
        let reloaded = Plan::from_json(&a.to_json()).unwrap();
        assert_eq!(reloaded, a);
    }

    #[test]
    fn source_positions_do_not_change_the_fingerprint() {
        let (p, s) = program("");
        let plain = lower(&p, &s, "default_codex", &PlanSettings::default()).unwrap();
        // The same program seen through a file with extra blank lines and a
        // comment: spans move, semantics do not.
        let (p2, s2) = program("\n\n# nothing here\n\nalias spare = default_codex\n");
        let moved = lower(&p2, &s2, "default_codex", &PlanSettings::default()).unwrap();
        assert_eq!(plain.fingerprint, moved.fingerprint);
    }

    #[test]
    fn bindings_follow_precedence() {
        let (p, s) = program(
            "mode layered extends default_codex {\n    runner checker = claude_code\n    timeout * = 100\n    timeout builder = 200\n}\n",
        );
        let mut settings = PlanSettings::default();
        settings.stages.insert(
            "builder".into(),
            StageOverride {
                runner: Some("pi_rpc".into()),
                timeout_seconds: Some(300),
                ..Default::default()
            },
        );
        let plan = lower(&p, &s, "layered", &settings).unwrap();
        assert_eq!(node(&plan, Plane::Execution, "checker").runner, "claude_code");
        assert_eq!(node(&plan, Plane::Execution, "checker").timeout_seconds, 100);
        assert_eq!(node(&plan, Plane::Execution, "fixer").runner, "codex_cli");
        assert_eq!(node(&plan, Plane::Execution, "builder").runner, "pi_rpc");
        assert_eq!(node(&plan, Plane::Execution, "builder").timeout_seconds, 300);
    }

    #[test]
    fn counter_limits_come_from_settings() {
        let (p, s) = program("");
        let mut settings = PlanSettings::default();
        settings.recovery.max_fix_cycles = Some(5);
        let plan = lower(&p, &s, "default_codex", &settings).unwrap();
        let l = plan.loop_for(Plane::Execution).unwrap();
        let fix = plan.counter_named(l, "fix_cycles").unwrap();
        assert_eq!(plan.counters[fix].limit, 5);
        let default = lower(&p, &s, "default_codex", &PlanSettings::default()).unwrap();
        assert_ne!(default.plan_id, plan.plan_id, "limits are part of the plan");
        let fix = default.counter_named(l, "fix_cycles").unwrap();
        assert_eq!(
            default.counters[fix].limit, 2,
            "unset, the loop's own limit holds"
        );
    }

    #[test]
    fn settings_are_checked_against_the_program() {
        let (p, s) = program(
            "stage pinned {\n    plane execution\n    entrypoint \"entrypoints/execution/pinned.md\"\n    fixed runner\n    outcomes {\n        DONE: success\n        BLOCKED: blocked | recoverable_failure\n    }\n}\nloop execution.pinned {\n    plane execution\n    entry task -> pinned\n    pinned {\n        DONE -> finish done\n        BLOCKED -> finish blocked\n    }\n    terminal done: success\n    terminal blocked: blocked\n}\nmode pinned extends default_codex {\n    execution = execution.pinned\n}\n",
        );
        let code = |settings: &PlanSettings| {
            let e = lower(&p, &s, "pinned", settings).unwrap_err();
            crate::diag::code_of(&e)
        };
        let mut unknown = PlanSettings::default();
        unknown.stages.insert("bulider".into(), StageOverride::default());
        assert_eq!(code(&unknown), "mill::lower::unknown_config_stage");
        let mut runner = PlanSettings::default();
        runner.stages.insert(
            "builder".into(),
            StageOverride {
                runner: Some("codex".into()),
                ..Default::default()
            },
        );
        assert_eq!(code(&runner), "mill::lower::unknown_config_runner");
        let mut fixed = PlanSettings::default();
        fixed.stages.insert(
            "pinned".into(),
            StageOverride {
                runner: Some("pi_rpc".into()),
                ..Default::default()
            },
        );
        assert_eq!(code(&fixed), "mill::lower::fixed_override");
        assert_eq!(
            crate::diag::code_of(&lower(&p, &s, "nope", &PlanSettings::default()).unwrap_err()),
            "mill::lower::unknown_mode"
        );
    }

    #[test]
    fn stage_defaults_sit_below_every_binding_and_fixed_makes_them_final() {
        let text = "stage suite {\n    plane execution\n    entrypoint \"entrypoints/execution/checker.md\"\n    runner command\n    timeout 900\n    fixed runner\n    outcomes {\n        PASS: success\n        BLOCKED: blocked | recoverable_failure\n    }\n}\nloop execution.suite {\n    plane execution\n    entry task -> suite\n    suite {\n        PASS -> finish done\n        BLOCKED -> finish blocked\n    }\n    terminal done: success\n    terminal blocked: blocked\n}\nmode suite extends default_codex {\n    execution = execution.suite\n    timeout * = 60\n}\n";
        let (p, s) = program(text);
        let plan = lower(&p, &s, "suite", &PlanSettings::default()).unwrap();
        let suite = node(&plan, Plane::Execution, "suite");
        assert_eq!(
            suite.runner, "command",
            "the wildcard runner binding does not touch a fixed runner"
        );
        assert_eq!(
            suite.timeout_seconds, 60,
            "a mode binding wins over the stage default"
        );
    }

    #[test]
    fn hand_edited_ids_and_cross_loop_routes_are_refused() {
        let (p, s) = program("");
        let plan = lower(&p, &s, "default_codex", &PlanSettings::default()).unwrap();
        let mut renamed = plan.clone();
        renamed.plan_id = "plan-default_codex-000000000000".into();
        assert!(matches!(
            Plan::from_json(&renamed.to_json()),
            Err(crate::plan::PlanLoadError::FingerprintMismatch)
        ));
        let planning_node = plan.node_named(Plane::Planning, "planner").unwrap();
        let mut crossed = plan.clone();
        if let Some(row) = crossed.branches.get_mut(BranchId(0)) {
            row.dest = Dest::Node(planning_node);
        }
        crossed.seal();
        assert!(matches!(
            Plan::from_json(&crossed.to_json()),
            Err(crate::plan::PlanLoadError::Dangling { .. })
        ));
    }

    #[test]
    fn tampered_plans_are_refused() {
        let (p, s) = program("");
        let plan = lower(&p, &s, "learning_codex", &PlanSettings::default()).unwrap();
        let text = plan.to_json();
        let tampered = text.replacen("\"limit\": 2", "\"limit\": 9", 1);
        assert!(matches!(
            Plan::from_json(&tampered),
            Err(crate::plan::PlanLoadError::FingerprintMismatch)
        ));
        let future = text.replacen("\"schema_version\": 1", "\"schema_version\": 7", 1);
        assert!(matches!(
            Plan::from_json(&future),
            Err(crate::plan::PlanLoadError::UnsupportedVersion { .. })
        ));
        assert!(matches!(
            Plan::from_json("{"),
            Err(crate::plan::PlanLoadError::Malformed { .. })
        ));
        let mut broken = plan.clone();
        if let Some(row) = broken.branches.get_mut(BranchId(0)) {
            row.dest = Dest::Node(NodeId(999));
        }
        broken.seal();
        assert!(matches!(
            Plan::from_json(&broken.to_json()),
            Err(crate::plan::PlanLoadError::Dangling { .. })
        ));
    }
}
