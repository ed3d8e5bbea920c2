//! Reading a plan back from JSON, refusing anything this build cannot trust.

use serde::Deserialize;

use super::{Dest, Id, IdRange, Plan, SCHEMA_VERSION};

/// Why a stored plan cannot be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PlanLoadError {
    /// The file is not JSON of the plan's shape.
    #[error("the compiled plan is not valid plan JSON: {detail}")]
    #[diagnostic(
        code(mill::plan::malformed),
        help("recompile with `millrace compile validate`")
    )]
    Malformed { detail: String },

    /// The plan was written by a build with another format version.
    #[error("the compiled plan has schema version {found}; this build reads version {expected}")]
    #[diagnostic(
        code(mill::plan::unsupported_version),
        help("recompile with `millrace compile validate`")
    )]
    UnsupportedVersion { found: u64, expected: u32 },

    /// A row refers to a row that does not exist, or a slice is inconsistent.
    #[error("the compiled plan is inconsistent: {detail}")]
    #[diagnostic(
        code(mill::plan::dangling_id),
        help("the file was edited or damaged; recompile with `millrace compile validate`")
    )]
    Dangling { detail: String },

    /// The content does not hash to the stored fingerprint.
    #[error("the compiled plan's content does not match its fingerprint")]
    #[diagnostic(
        code(mill::plan::fingerprint_mismatch),
        help("the file was edited or damaged; recompile with `millrace compile validate`")
    )]
    FingerprintMismatch,
}

#[derive(Deserialize)]
struct VersionProbe {
    schema_version: Option<u64>,
}

impl Plan {
    /// Parses and validates a stored plan.
    pub fn from_json(text: &str) -> Result<Plan, PlanLoadError> {
        let probe: VersionProbe = serde_json::from_str(text).map_err(|e| PlanLoadError::Malformed {
            detail: e.to_string(),
        })?;
        match probe.schema_version {
            Some(v) if v == u64::from(SCHEMA_VERSION) => {}
            Some(found) => {
                return Err(PlanLoadError::UnsupportedVersion {
                    found,
                    expected: SCHEMA_VERSION,
                });
            }
            None => {
                return Err(PlanLoadError::Malformed {
                    detail: "missing `schema_version`".into(),
                });
            }
        }
        let plan: Plan = serde_json::from_str(text).map_err(|e| PlanLoadError::Malformed {
            detail: e.to_string(),
        })?;
        plan.validate()?;
        let fingerprint = plan.compute_fingerprint();
        let id = format!("plan-{}-{}", plan.mode, fingerprint.get(..12).unwrap_or(""));
        if fingerprint != plan.fingerprint || id != plan.plan_id {
            return Err(PlanLoadError::FingerprintMismatch);
        }
        Ok(plan)
    }

    /// Checks every id and slice invariant stated in the module header.
    pub fn validate(&self) -> Result<(), PlanLoadError> {
        self.validate_loops()?;
        self.validate_stages()?;
        self.validate_nodes()?;
        self.validate_edges_and_branches()?;
        self.validate_routes_stay_in_loop()?;
        self.validate_marker_tokens()?;
        self.validate_rest()
    }

    /// Running markers, outcome names and terminal markers are written to
    /// the status files and the snapshot, which accept only `[A-Z0-9_]+`:
    /// a plan with another one would stop the runtime at its first stage.
    fn validate_marker_tokens(&self) -> Result<(), PlanLoadError> {
        let is_token = |t: &str| {
            !t.is_empty()
                && t.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        };
        let tokens = self
            .stages
            .iter()
            .map(|s| (format!("stage `{}` running marker", s.name), &s.running))
            .chain(
                self.outcomes
                    .iter()
                    .map(|o| (format!("outcome `{}`", o.name), &o.name)),
            )
            .chain(
                self.terminals
                    .iter()
                    .map(|t| (format!("terminal `{}` marker", t.name), &t.writes)),
            );
        for (what, token) in tokens {
            ensure(is_token(token), || {
                format!("{what} `{token}` is not a status token")
            })?;
        }
        Ok(())
    }

    fn validate_loops(&self) -> Result<(), PlanLoadError> {
        for (id, l) in self.loops.enumerate() {
            let what = format!("loop `{}`", l.name);
            range_ok(&what, l.nodes, self.nodes.len())?;
            range_ok(&what, l.terminals, self.terminals.len())?;
            range_ok(&what, l.counters, self.counters.len())?;
            for node in l
                .entries
                .iter()
                .map(|e| e.node)
                .chain(l.closure.map(|c| c.node))
                .chain(l.repair)
            {
                ensure(l.nodes.contains(node), || {
                    format!("{what} names node {} outside its nodes", node.0)
                })?;
            }
            if let Some(counter) = l.closure.and_then(|c| c.counter) {
                ensure(l.counters.contains(counter), || {
                    format!("{what} closure counter is not its own")
                })?;
            }
            for n in l.nodes.iter() {
                ensure(self.nodes[n].loop_id == id, || {
                    format!("node {} claims another loop", n.0)
                })?;
            }
        }
        Ok(())
    }

    fn validate_stages(&self) -> Result<(), PlanLoadError> {
        for (id, s) in self.stages.enumerate() {
            range_ok(&format!("stage `{}`", s.name), s.outcomes, self.outcomes.len())?;
            if let Some(t) = s.gate.as_ref().and_then(|g| g.timeout) {
                ensure(s.outcomes.contains(t.outcome), || {
                    format!("gate `{}` times out with an outcome it does not declare", s.name)
                })?;
            }
            for o in s.outcomes.iter() {
                ensure(self.outcomes[o].stage == id, || {
                    format!("outcome {} claims another stage", o.0)
                })?;
            }
        }
        Ok(())
    }

    fn validate_nodes(&self) -> Result<(), PlanLoadError> {
        let mut next_edge = 0;
        for (id, n) in self.nodes.enumerate() {
            let what = format!("node `{}`", n.name);
            ensure(self.loops.contains(n.loop_id), || {
                format!("{what} names a missing loop")
            })?;
            ensure(self.stages.contains(n.stage), || {
                format!("{what} names a missing stage")
            })?;
            range_ok(&what, n.edges, self.edges.len())?;
            ensure(n.edges.start as usize == next_edge, || {
                format!("{what} edges are not contiguous")
            })?;
            next_edge = n.edges.end as usize;
            for e in n.edges.iter() {
                ensure(self.edges[e].node == id, || {
                    format!("edge {} is outside its node's slice", e.0)
                })?;
            }
        }
        ensure(next_edge == self.edges.len(), || {
            "edges not owned by any node".to_string()
        })
    }

    fn validate_edges_and_branches(&self) -> Result<(), PlanLoadError> {
        for (id, e) in self.edges.enumerate() {
            ensure(self.outcomes.contains(e.outcome), || {
                format!("edge {} names a missing outcome", id.0)
            })?;
            ensure(self.branches.contains(e.branch), || {
                format!("edge {} names a missing branch", id.0)
            })?;
            ensure(self.stage_of(e.node).outcomes.contains(e.outcome), || {
                format!("edge {} routes an outcome its stage does not declare", id.0)
            })?;
            for c in &e.resets {
                ensure(self.counters.contains(*c), || {
                    format!("edge {} resets a missing counter", id.0)
                })?;
            }
        }
        for (id, b) in self.branches.enumerate() {
            let ok = match &b.dest {
                Dest::Node(n) => self.nodes.contains(*n),
                Dest::Finish(t) => self.terminals.contains(*t),
                Dest::Resume(r) => {
                    self.nodes.contains(r.default) && r.allowed.iter().all(|n| self.nodes.contains(*n))
                }
            };
            ensure(ok, || format!("branch {} leads nowhere", id.0))?;
            if let Some(g) = b.guard {
                ensure(self.counters.contains(g.counter), || {
                    format!("branch {} guards a missing counter", id.0)
                })?;
                ensure(
                    g.otherwise.index() > id.index() && self.branches.contains(g.otherwise),
                    || format!("branch {} has a backward or missing fallback", id.0),
                )?;
            }
        }
        Ok(())
    }

    /// Every declared outcome of a node is routed, and every route leads to
    /// nodes, terminals and counters of the node's own loop.
    fn validate_routes_stay_in_loop(&self) -> Result<(), PlanLoadError> {
        for (id, n) in self.nodes.enumerate() {
            let l = &self.loops[n.loop_id];
            let routed: Vec<_> = n.edges.iter().map(|e| self.edges[e].outcome).collect();
            for outcome in self.stages[n.stage].outcomes.iter() {
                ensure(routed.contains(&outcome), || {
                    format!(
                        "node `{}` does not route `{}`",
                        n.name, self.outcomes[outcome].name
                    )
                })?;
            }
            for e in n.edges.iter() {
                let mut branch = self.edges[e].branch;
                loop {
                    let b = &self.branches[branch];
                    let inside = match &b.dest {
                        Dest::Node(t) => l.nodes.contains(*t),
                        Dest::Finish(t) => l.terminals.contains(*t),
                        Dest::Resume(r) => {
                            l.nodes.contains(r.default) && r.allowed.iter().all(|t| l.nodes.contains(*t))
                        }
                    };
                    let guard_inside = b.guard.is_none_or(|g| l.counters.contains(g.counter));
                    ensure(inside && guard_inside, || {
                        format!("a route of node {} leaves its loop", id.0)
                    })?;
                    match b.guard {
                        Some(g) => branch = g.otherwise,
                        None => break,
                    }
                }
                for c in &self.edges[e].resets {
                    ensure(l.counters.contains(*c), || {
                        format!("a route of node {} resets another loop's counter", id.0)
                    })?;
                }
            }
        }
        Ok(())
    }

    fn validate_rest(&self) -> Result<(), PlanLoadError> {
        for (id, t) in self.terminals.enumerate() {
            let owned = self
                .loops
                .get(t.loop_id)
                .is_some_and(|l| l.terminals.contains(id));
            ensure(owned, || format!("terminal `{}` is outside its loop", t.name))?;
        }
        for (id, c) in self.counters.enumerate() {
            let owned = self.loops.get(c.loop_id).is_some_and(|l| l.counters.contains(id));
            ensure(owned, || format!("counter `{}` is outside its loop", c.name))?;
        }
        for t in &self.triggers {
            let ok = self.stages.contains(t.source_stage)
                && self.stages.contains(t.target_stage)
                && t.outcomes.iter().all(|o| {
                    self.outcomes
                        .get(*o)
                        .is_some_and(|row| row.stage == t.source_stage)
                });
            ensure(ok, || {
                format!("trigger `{}` names a missing stage or outcome", t.rule_id)
            })?;
        }
        Ok(())
    }
}

fn range_ok<I: Id>(what: &str, range: IdRange<I>, len: usize) -> Result<(), PlanLoadError> {
    ensure(range.start <= range.end && range.end as usize <= len, || {
        format!("{what} has an out-of-range slice")
    })
}

fn ensure(ok: bool, detail: impl FnOnce() -> String) -> Result<(), PlanLoadError> {
    if ok {
        Ok(())
    } else {
        Err(PlanLoadError::Dangling { detail: detail() })
    }
}
