//! `millrace queue ls`: what is queued and running, and what is done,
//! blocked and waiting in the ideas inbox.
//!
//! Input: the queues. Output: per plane the depth and active ids; a first
//! page of items (active first, then queued in claim order) with title,
//! state and age; done and blocked counts; the inbox's ideas. With
//! `--all`, every queued item with its claim facts instead of the page.
//! Invariant: the cost does not grow with the queue beyond one index
//! refresh: only the listed items' documents are read; `--all` reads none.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use jiff::Timestamp;
use serde::Serialize;

use super::Outcome;
use crate::cli::{OutputError, QueueLsArgs};
use crate::model::{QueueState, WorkDocument};
use crate::plan::{Plane, WorkItemKind};
use crate::runtime::status;
use crate::workspace::queue::{Entry, QueueError, QueueIndex, Queues, plane_kinds, quarantine};
use crate::workspace::{Workspace, closure};

/// One queued item of `queue ls --all --json`.
#[derive(Serialize)]
struct QueuedItem<'a> {
    kind: WorkItemKind,
    id: &'a str,
    claim_time: Option<jiff::Timestamp>,
    eligible: bool,
    /// The open closure target it waits for (claims keep to its lineage).
    #[serde(skip_serializing_if = "Option::is_none")]
    held_back_by: Option<&'a str>,
    root_spec_id: Option<&'a str>,
    depends_on: &'a [String],
}

/// One plane of `queue ls --json`.
#[derive(Serialize)]
struct PlaneListing<'a> {
    depth: usize,
    active: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queued: Option<Vec<QueuedItem<'a>>>,
}

pub(super) fn ls(ws: &Workspace, args: &QueueLsArgs) -> Outcome {
    let queues = Queues::new(ws);
    // With --all the indexes are refreshed first, which quarantines
    // malformed files before anything is counted.
    let mut ordered: Vec<(WorkItemKind, Vec<(Entry, bool)>)> = Vec::new();
    if args.all {
        for plane in Plane::ALL {
            for kind in plane_kinds(*plane) {
                ordered.push((*kind, queues.queued_in_order(*kind)?));
            }
        }
    }
    let open_root = closure::open_targets(ws)?
        .into_iter()
        .next()
        .map(|t| t.root_spec_id);
    let mut problems = Vec::new();
    let (views, quarantined) = status::queues(ws, &mut problems, false);
    if let Some(problem) = problems.into_iter().next() {
        return Err(QueueError::Unreadable(problem).into());
    }
    let mut planes = BTreeMap::new();
    for (plane, view) in views {
        let mut listing = PlaneListing {
            depth: view.depth,
            active: view.active,
            queued: args.all.then(Vec::new),
        };
        for kind in plane_kinds(plane) {
            let items = ordered
                .iter()
                .filter(|(k, _)| k == kind)
                .flat_map(|(_, items)| items);
            if let Some(queued) = &mut listing.queued {
                queued.extend(items.map(|(entry, eligible)| {
                    // Learning requests are never held back by a target.
                    let held_back_by = open_root
                        .as_deref()
                        .filter(|r| plane != Plane::Learning && entry.root() != Some(*r));
                    QueuedItem {
                        kind: *kind,
                        id: entry.id(),
                        claim_time: entry.claim_time(),
                        eligible: *eligible && held_back_by.is_none(),
                        held_back_by,
                        root_spec_id: entry.root(),
                        depends_on: entry.depends_on(),
                    }
                }));
            }
        }
        planes.insert(plane, listing);
    }
    let page = match args.all {
        true => None,
        false => Some(Page::first(ws, &queues, args.limit, open_root.as_deref())?),
    };
    let mut done = BTreeMap::new();
    let mut blocked = BTreeMap::new();
    for kind in WorkItemKind::ALL {
        done.insert(*kind, queues.count(*kind, QueueState::Done)?);
        blocked.insert(*kind, queues.count(*kind, QueueState::Blocked)?);
    }
    let ideas: Vec<Idea> = queues
        .inbox_names()
        .into_iter()
        .map(|(name, spec_id, taken)| Idea { name, spec_id, taken })
        .collect();
    let rest = Rest {
        page: page.as_ref(),
        done: &done,
        blocked: &blocked,
        ideas: &ideas,
    };
    // Listings of 10,000 items are streamed, not built in memory first.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = if args.json {
        let listing = Listing {
            planes: &planes,
            quarantined: &quarantined,
            rest,
        };
        serde_json::to_writer_pretty(&mut out, &listing)
            .map_err(std::io::Error::from)
            .and_then(|()| out.write_all(b"\n"))
    } else {
        write_ls_text(&mut out, &planes, &quarantined).and_then(|()| write_rest(&mut out, &rest, args.limit))
    };
    written.and_then(|()| out.flush()).map_err(output_error)?;
    Ok(ExitCode::SUCCESS)
}

/// The whole `queue ls --json` document.
#[derive(Serialize)]
struct Listing<'a> {
    planes: &'a BTreeMap<Plane, PlaneListing<'a>>,
    quarantined: &'a [quarantine::Quarantined],
    #[serde(flatten)]
    rest: Rest<'a>,
}

/// What the listing shows besides the planes.
#[derive(Serialize)]
struct Rest<'a> {
    /// The first page of items (absent with `--all`).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    page: Option<&'a Page>,
    done: &'a BTreeMap<WorkItemKind, usize>,
    blocked: &'a BTreeMap<WorkItemKind, usize>,
    ideas: &'a [Idea],
}

/// An idea in the inbox and the root spec it becomes.
#[derive(Serialize)]
struct Idea {
    name: String,
    spec_id: String,
    /// A spec of that id exists: intake has taken it.
    taken: bool,
}

/// One listed item.
#[derive(Serialize)]
struct Row {
    kind: WorkItemKind,
    id: String,
    state: QueueState,
    title: Option<String>,
    created_at: Option<Timestamp>,
    age_seconds: Option<i64>,
    /// The open closure target a queued item waits for.
    #[serde(skip_serializing_if = "Option::is_none")]
    held_back_by: Option<String>,
}

/// Active items, then queued ones in claim order, at most `limit` in all.
#[derive(Serialize)]
struct Page {
    items: Vec<Row>,
    /// Queued or active items not listed.
    unlisted: usize,
    #[serde(skip)]
    limit: usize,
    #[serde(skip)]
    now: Timestamp,
}

impl Page {
    fn first(
        ws: &Workspace,
        queues: &Queues<'_>,
        limit: usize,
        open_root: Option<&str>,
    ) -> Result<Self, QueueError> {
        let mut page = Page {
            items: Vec::new(),
            unlisted: 0,
            limit,
            now: Timestamp::now(),
        };
        for plane in Plane::ALL {
            for kind in plane_kinds(*plane) {
                for id in queues.active(*kind)? {
                    page.push(ws, *kind, id, QueueState::Active, None);
                }
            }
        }
        for plane in Plane::ALL {
            // Learning requests are never held back by a target.
            let root = open_root.filter(|_| *plane != Plane::Learning);
            for kind in plane_kinds(*plane) {
                // Only the listed entries are read; the rest is counted.
                let room = limit.saturating_sub(page.items.len());
                let (entries, total) = QueueIndex::first(ws, *kind, room)?;
                page.unlisted += total - entries.len();
                for entry in entries {
                    let held = root.filter(|r| entry.root() != Some(*r)).map(String::from);
                    page.push(ws, *kind, entry.id().to_string(), QueueState::Queued, held);
                }
            }
        }
        Ok(page)
    }

    fn push(
        &mut self,
        ws: &Workspace,
        kind: WorkItemKind,
        id: String,
        state: QueueState,
        held: Option<String>,
    ) {
        if self.items.len() >= self.limit {
            self.unlisted += 1;
            return;
        }
        let doc = WorkDocument::load(&ws.paths().document(kind, state, &id), Some(kind)).ok();
        let created_at = doc.as_ref().map(WorkDocument::claim_time);
        self.items.push(Row {
            kind,
            id,
            state,
            title: doc.as_ref().map(|d| d.title().to_string()),
            created_at,
            age_seconds: created_at.map(|t| self.now.duration_since(t).as_secs().max(0)),
            held_back_by: held,
        });
    }
}

/// The page, the counts and the ideas as `key: value` lines.
fn write_rest(out: &mut impl Write, rest: &Rest<'_>, limit: usize) -> std::io::Result<()> {
    let counts = |map: &BTreeMap<WorkItemKind, usize>| {
        map.iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    writeln!(out, "done: {}", counts(rest.done))?;
    writeln!(out, "blocked: {}", counts(rest.blocked))?;
    let waiting = rest.ideas.iter().filter(|i| !i.taken).count();
    writeln!(out, "ideas_inbox: {} waiting={waiting}", rest.ideas.len())?;
    for idea in rest.ideas.iter().take(limit) {
        writeln!(
            out,
            "idea: {} spec={} taken={}",
            idea.name, idea.spec_id, idea.taken
        )?;
    }
    let Some(page) = rest.page else { return Ok(()) };
    for row in &page.items {
        let age = row.age_seconds.map_or("none".into(), age);
        let title = row.title.as_deref().unwrap_or("(unreadable)");
        let held = row
            .held_back_by
            .as_deref()
            .map(|r| format!(" held_back_by={r}"))
            .unwrap_or_default();
        writeln!(
            out,
            "item: {} {} state={} age={age}{held} title={title}",
            row.kind,
            row.id,
            row.state.as_str()
        )?;
    }
    if page.unlisted > 0 {
        writeln!(
            out,
            "more: {} item(s) not listed (--limit N lists more, --all lists every queued item)",
            page.unlisted
        )?;
    }
    Ok(())
}

/// An age as people say it: `45s`, `12m`, `3h`, `2d`.
fn age(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn output_error(e: std::io::Error) -> OutputError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        OutputError::BrokenPipe
    } else {
        OutputError::Io(e)
    }
}

fn write_ls_text(
    out: &mut impl Write,
    planes: &BTreeMap<Plane, PlaneListing<'_>>,
    quarantined: &[quarantine::Quarantined],
) -> std::io::Result<()> {
    for (plane, listing) in planes {
        writeln!(out, "{plane}_queue_depth: {}", listing.depth)?;
        writeln!(out, "{plane}_active: {}", join_or_none(&listing.active))?;
    }
    writeln!(out, "quarantined: {}", quarantined.len())?;
    for q in quarantined {
        let reason = q.reason.as_deref().unwrap_or("none");
        writeln!(out, "quarantined_file: {} reason={reason}", q.path.display())?;
    }
    for item in planes.values().flat_map(|l| l.queued.iter().flatten()) {
        let at = item.claim_time.map(|t| t.to_string());
        let held = item
            .held_back_by
            .map(|r| format!(" held_back_by={r}"))
            .unwrap_or_default();
        writeln!(
            out,
            "queued: {} {} at={} eligible={}{held} root={} depends_on={}",
            item.kind,
            item.id,
            at.as_deref().unwrap_or("none"),
            item.eligible,
            item.root_spec_id.unwrap_or("none"),
            join_or_none(item.depends_on),
        )?;
    }
    Ok(())
}

fn join_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(",")
    }
}
