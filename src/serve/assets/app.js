// Millrace dashboard: renders each view from the JSON API and keeps it
// current from the server-sent event stream. Every value from the server
// becomes text through textContent (never HTML), so nothing a work item
// or an agent wrote can run here.
"use strict";

const body = document.body;
const VIEW = body.dataset.view;
const WS = body.dataset.ws;
const ARG = body.dataset.arg;
const CONTROL = body.dataset.control === "true";
const main = document.getElementById("view");
// Replaces an element's children, leaving out the absent ones.
const fill = (el, ...nodes) => el.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false));

// ---- small helpers ----

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") el.textContent = v;
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c) el.append(c);
  return el;
}

const api = (path) => `/api/w/${encodeURIComponent(WS)}${path}`;
const page = (ws, path) => `/w/${encodeURIComponent(ws)}${path || ""}`;

async function getJSON(url) {
  const r = await fetch(url, { headers: { accept: "application/json" } });
  let data;
  try {
    data = await r.json();
  } catch (e) {
    throw { code: "mill::serve::server_failed", message: `bad answer from ${url}`, help: "" };
  }
  if (!r.ok || data.error) throw data.error || { code: String(r.status), message: r.statusText };
  return data;
}

function errorPanel(err) {
  return h("section", { class: "panel error", "data-code": err.code },
    h("h2", { text: err.message || "error" }),
    h("p", { class: "code", text: err.code || "" }),
    err.help ? h("p", { class: "help", text: err.help }) : null);
}

function fmtTime(t) {
  if (!t) return "—";
  const d = new Date(t);
  return isNaN(d) ? String(t) : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function fmtSecs(s) {
  if (s === null || s === undefined) return "—";
  s = Math.max(0, Math.round(s));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  return hh ? `${hh}h${String(mm).padStart(2, "0")}m` : mm ? `${mm}m${String(ss).padStart(2, "0")}s` : `${ss}s`;
}

const num = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US"));
const cost = (c) => (c === null || c === undefined ? "—" : `$${Number(c).toFixed(4)}`);

function table(headers, rows, cls) {
  return h("table", { class: cls || "" },
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { text: x })))),
    h("tbody", {}, rows));
}

function card(title, ...content) {
  return h("section", { class: "panel" }, h("h2", { text: title }), ...content);
}

function fixLine(fix) {
  return fix ? h("p", { class: "fix" }, h("span", { class: "label", text: "fix" }), h("code", { text: fix })) : null;
}

function outcomeClass(o) {
  if (!o) return "";
  if (/PASS|COMPLETE|success|valid/.test(o)) return "ok";
  if (/BLOCKED|fail|malformed|EXHAUSTED/i.test(o)) return "bad";
  return "warn";
}

// Elapsed times tick on the page without asking the server.
setInterval(() => {
  for (const el of document.querySelectorAll("[data-since]")) {
    el.textContent = fmtSecs((Date.now() - Date.parse(el.dataset.since)) / 1000);
  }
}, 1000);

// ---- the live stream ----

const liveBadge = document.getElementById("live");
function setLive(on) {
  liveBadge.textContent = on ? "live" : "offline";
  liveBadge.className = on ? "live on" : "live off";
}

// Calls `onEvent(event)` for each runtime event of workspace `ws` (every
// workspace for `null`, with `event.ws` set) and `onReset()` when a log was
// replaced or events may have been missed. A hidden tab gives its
// connection back (browsers allow a handful per server) and, when shown
// again, resumes after the last event it saw.
function subscribe(ws, onEvent, onReset, after) {
  let source = null;
  let last = after === undefined ? null : after;
  const url = () => ws === null ? "/api/events/stream" : `/api/w/${encodeURIComponent(ws)}/events/stream${last !== null ? `?after=${last}` : ""}`;
  const open = () => {
    source = new EventSource(url());
    source.addEventListener("open", () => setLive(true));
    source.addEventListener("error", () => setLive(false));
    source.addEventListener("runtime", (m) => {
      const e = JSON.parse(m.data);
      if (ws !== null) last = e.seq;
      onEvent(e);
    });
    source.addEventListener("reset", (m) => onReset && onReset(JSON.parse(m.data)));
  };
  document.addEventListener("visibilitychange", () => {
    if (document.hidden && source) {
      source.close();
      source = null;
      setLive(false);
    } else if (!document.hidden && !source) {
      open();
      // Without a last id to resume after, refetch instead.
      if (onReset && (ws === null || last === null)) onReset({});
    }
  });
  open();
}

// Runs `fn` at most every `ms`, and once more after the last call.
function debounce(fn, ms) {
  let timer = null;
  return () => {
    if (timer) return;
    timer = setTimeout(() => { timer = null; fn(); }, ms);
  };
}

// A view that refetches itself when events arrive.
function liveView(render, wanted) {
  let ready = false;
  const refresh = debounce(async () => { await render(); }, 150);
  render().then(() => { ready = true; });
  subscribe(WS, (e) => { if (ready && (!wanted || wanted(e))) refresh(); }, refresh);
}

// ---- controls ----

const tokenKey = "millrace-token";
if (location.hash.startsWith("#token=")) {
  sessionStorage.setItem(tokenKey, decodeURIComponent(location.hash.slice(7)));
  history.replaceState(null, "", location.pathname + location.search);
}

function controls(ws, activePlanes, blockedIds = []) {
  if (!CONTROL) return null;
  const out = h("p", { class: "control-result" });
  const send = async (action, payload) => {
    const token = sessionStorage.getItem(tokenKey) || "";
    const r = await fetch(`/api/w/${encodeURIComponent(ws)}/control/${action}`, {
      method: "POST",
      headers: { "x-millrace-token": token, "content-type": "application/json" },
      body: JSON.stringify(payload || {}),
    });
    const data = await r.json().catch(() => ({}));
    out.textContent = data.error ? `${data.error.code}: ${data.error.message}` : `${data.action}: ${data.detail} (${data.command_id})`;
    out.className = data.error ? "control-result bad" : "control-result ok";
  };
  const button = (label, action, payload) => h("button", { onclick: () => send(action, payload), "data-action": action, text: label });
  const tokenInput = h("input", { type: "password", placeholder: "token printed by millrace serve", value: sessionStorage.getItem(tokenKey) || "" });
  tokenInput.addEventListener("change", () => sessionStorage.setItem(tokenKey, tokenInput.value.trim()));
  return card("Control",
    h("p", {}, button("Pause", "pause"), button("Resume", "resume"), button("Stop", "stop"), button("Stop now", "stop-now"),
      activePlanes.map((p) => button(`Retry active ${p}`, "retry-active", { plane: p })),
      blockedIds.slice(0, 10).map((id) => button(`Retry blocked ${id}`, "queue-retry", { id }))),
    h("p", { class: "muted" }, "Commands go to the daemon's mailbox, as the CLI sends them. Token: ", tokenInput),
    out);
}

// ---- overview ----

function planeRow(ws, p) {
  const run = p.run;
  const item = run && run.work_item ? run.work_item : null;
  const activity = run && run.activity;
  const last = p.last_event;
  return h("tr", { "data-plane": p.plane },
    h("td", { text: p.plane }),
    h("td", {}, run ? h("span", { class: "stage active-stage", text: `${run.node} (${run.stage})` }) : h("span", { class: "muted", text: p.marker ? `### ${p.marker}` : "idle" })),
    h("td", {}, item ? h("a", { href: page(ws, `/items/${encodeURIComponent(item.id)}`), text: `${item.kind} ${item.id}` }) : run && run.closure_root_spec_id ? `closure ${run.closure_root_spec_id}` : "—"),
    h("td", {}, run ? h("span", { "data-since": run.active_since, text: fmtSecs(run.elapsed_seconds) }) : "—"),
    h("td", {}, run ? `${run.stage_runs}/${run.fuel_limit ?? "∞"}` : "—"),
    h("td", { class: "activity" },
      activity ? h("span", {}, h("span", { class: "muted", text: `${fmtTime(activity.updated_at)} ` }), activity.last_line || `${num(activity.bytes)} bytes`) :
      last ? h("span", {}, h("span", { class: "muted", text: `${fmtTime(last.occurred_at)} ` }), words(last)) : "—"),
    h("td", { class: "num", text: num(p.depth) }));
}

function usageCard(u) {
  const bars = (u.windows || []).map((w) => {
    const pct = w.threshold ? Math.min(100, (100 * w.observed) / w.threshold) : 0;
    const bar = h("span", { class: "bar" }, h("span", { class: pct >= 100 ? "fill bad" : pct >= 80 ? "fill warn" : "fill" }));
    bar.firstChild.style.width = `${pct.toFixed(1)}%`;
    return h("tr", {}, h("td", { text: w.rule_id }), h("td", { text: w.window }), h("td", {}, bar),
      h("td", { class: "num", text: `${num(w.observed)} / ${num(w.threshold)}` }), h("td", { text: w.resets_at ? fmtTime(w.resets_at) : "" }));
  });
  const quota = Object.entries(u.quota_windows || {}).map(([k, w]) =>
    h("tr", {}, h("td", { text: k }), h("td", { text: "subscription" }), h("td", { text: `${Number(w.percent_used).toFixed(1)}% used` }), h("td", { text: w.source || "" }), h("td", { text: fmtTime(w.resets_at) })));
  return card("Usage",
    h("p", {}, `governance ${u.enabled ? "on" : "off"}`, u.paused ? h("strong", { class: "bad", text: " · paused" }) : null, ` · subscription ${u.subscription_status}`),
    bars.length || quota.length ? table(["rule", "window", "used", "tokens", "resets"], [...bars, ...quota]) : h("p", { class: "muted", text: u.enabled ? "no token rules" : "usage governance is off in millrace.toml" }),
    (u.blockers || []).map((b) => h("p", { class: "bad", text: `blocker ${b.rule_id}: ${b.detail}` })),
    (u.notes || []).map((n) => h("p", { class: "muted", text: n })));
}

// The open closure target: the root spec, its attempts, and the lineage
// work it waits for.
function closureLine(c) {
  if (!c || !c.open_root_spec_id) return null;
  const waiting = c.blocked_by_lineage_work && c.blocking_work_ids.length ? ` · waits for ${c.blocking_work_ids.join(", ")}` : "";
  return h("p", { class: "closure" }, h("span", { class: "pill", text: "closure" }),
    `root spec ${c.open_root_spec_id} · ${c.attempts ?? 0} attempts${waiting}`);
}

function overviewSections(o, compact) {
  const ws = o.key;
  const d = o.daemon, plan = o.plan, pause = o.pause;
  const head = h("section", { class: "panel summary", "data-ws": ws },
    h("h2", {}, h("a", { href: page(ws), text: ws }), h("span", { class: "muted", text: ` ${o.root}` })),
    h("p", {},
      h("span", { class: d.alive ? "pill ok" : "pill bad", "data-daemon": d.state, text: `daemon ${d.words}` }),
      h("span", { class: pause.paused ? "pill warn" : "pill", text: pause.paused ? "paused" : "not paused" }),
      h("span", { class: plan.current ? "pill ok" : "pill warn", text: `plan ${plan.currentness}` }),
      h("span", { class: "pill", text: `mode ${plan.mode || "—"}` }),
      h("span", { class: "pill mono", text: plan.plan_id || "no plan" })),
    d.fix ? fixLine(d.fix) : null,
    pause.reasons.map((r) => h("div", { class: "reason" }, h("p", { text: r.why }), fixLine(r.fix))),
    !plan.current ? h("div", { class: "reason" }, plan.reasons.map((r) => h("p", { text: r })), fixLine(plan.fix)) : null,
    plan.running_differs ? h("p", { class: "warn", text: `the daemon runs ${plan.running_plan_id}` }) : null,
    closureLine(o.status.closure),
    o.problems.length ? h("div", { class: "problems" }, o.problems.map((p) => h("p", { class: "bad", text: p }))) : null);
  const planes = card("Planes", table(["plane", "active stage", "work item", "elapsed", "fuel", "latest activity", "queued"], o.planes.map((p) => planeRow(ws, p))));
  const blocked = card(`Blocked (${o.blocked.count})`,
    o.blocked.count ? table(["item", "reason", "since", "fix"], o.blocked.items.map((b) =>
      h("tr", { "data-blocked": b.id }, h("td", {}, h("a", { href: page(ws, `/items/${encodeURIComponent(b.id)}`), text: `${b.kind} ${b.id}` })),
        h("td", { class: "reason-text", text: b.reason || "no reason recorded" }), h("td", { text: fmtTime(b.at) }), h("td", {}, h("code", { text: b.fix }))))) :
      h("p", { class: "muted", text: "nothing blocked" }));
  const waiting = (o.status.gates || []);
  const gates = waiting.length ? card(`Gates waiting (${waiting.length})`,
    table(["gate", "work item", "question", "waited", "timeout", "decide"], waiting.map((g) =>
      h("tr", { "data-gate": g.gate_id }, h("td", { text: `${g.plane}/${g.node}` }), h("td", { text: g.work_item || "—" }),
        h("td", { class: "reason-text", text: g.question }), h("td", { text: fmtSecs(g.waited_seconds) }),
        h("td", { text: g.timeout_at ? `${fmtTime(g.timeout_at)} → ${g.timeout_outcome}` : "none" }),
        h("td", {}, h("code", { text: `millrace gate decide ${g.gate_id} <${g.outcomes.join("|")}>` })))))) : null;
  if (compact) return [head, gates, planes, o.blocked.count ? blocked : null];
  const active = o.planes.filter((p) => p.run).map((p) => p.plane);
  return [head, controls(ws, active, o.blocked.items.map((b) => b.id)), gates, planes, blocked, usageCard(o.usage)];
}

async function renderHome() {
  const list = await getJSON("/api/workspaces");
  const holders = list.workspaces.map((w) => h("div", { "data-site": w.key }, h("p", { class: "loading", text: `Loading ${w.key}…` })));
  fill(main, h("h1", { text: "Workspaces" }), ...holders);
  const redraw = list.workspaces.map((w, i) => {
    const draw = async () => {
      try {
        const o = await getJSON(`/api/w/${encodeURIComponent(w.key)}/overview`);
        fill(holders[i], ...overviewSections(o, true).filter(Boolean));
      } catch (err) {
        fill(holders[i], h("h2", { text: w.key }), errorPanel(err));
      }
    };
    draw();
    return debounce(draw, 200);
  });
  const byKey = (key) => redraw[list.workspaces.findIndex((w) => w.key === key)];
  subscribe(null, (e) => { const r = byKey(e.ws); if (r) r(); }, (m) => {
    if (m && m.ws) { const r = byKey(m.ws); if (r) r(); } else redraw.forEach((r) => r());
  });
}

async function renderWorkspace() {
  const events = h("ol", { class: "events", id: "recent" });
  const doctor = h("div", {}, h("p", { class: "loading", text: "Checking…" }));
  const top = h("div", {});
  fill(main, top, card("Doctor", doctor), card("Recent events", events));
  const draw = async () => {
    try {
      const o = await getJSON(api("/overview"));
      fill(top, ...overviewSections(o, false).filter(Boolean));
    } catch (err) {
      fill(top, errorPanel(err));
    }
  };
  getJSON(api("/doctor")).then((d) => {
    fill(doctor, h("p", { class: d.ok ? "ok" : "bad", text: `${d.errors} errors, ${d.warnings} warnings` }),
      d.findings.length ? table(["severity", "code", "path", "message", "fix"], d.findings.map((f) =>
        h("tr", { class: f.severity }, h("td", { text: f.severity }), h("td", { class: "mono", text: f.code }), h("td", { text: f.path || "" }), h("td", { text: f.message }), h("td", {}, h("code", { text: f.fix || "" }))))) : null);
  }).catch((err) => fill(doctor, errorPanel(err)));
  await draw();
  const recent = await getJSON(api("/events?limit=30")).catch(() => ({ events: [], last_seq: undefined }));
  for (const e of recent.events) events.prepend(eventRow(e, false));
  const refresh = debounce(draw, 150);
  subscribe(WS, (e) => { events.prepend(eventRow(e, true)); while (events.children.length > 50) events.lastChild.remove(); refresh(); }, refresh, recent.last_seq);
}

// ---- flow ----

function drawGraph(g) {
  const maxW = Math.max(1, ...g.edges.map((e) => e.weight));
  const root = svg("svg", { viewBox: `0 0 ${g.width} ${g.height}`, width: g.width, height: g.height, class: "flow", "data-plane": g.plane });
  root.append(svg("defs", {}, svg("marker", { id: `arrow-${g.plane}`, viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "8", markerHeight: "8", markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" }, svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }))));
  const labelled = new Set();
  for (const e of g.edges) {
    const width = e.weight ? 1.5 + (4 * e.weight) / maxW : 1.2;
    root.append(svg("path", { d: e.path, class: `edge ${e.kind}${e.weight ? " taken" : ""}`, "stroke-width": width.toFixed(2), "marker-end": `url(#arrow-${g.plane})`, "data-from": e.from, "data-to": e.to, "data-weight": e.weight },
      svg("title", { text: `${e.label}${e.weight ? ` · taken ${e.weight}× recently` : ""}` })));
    // Fallbacks and repeated labels into one node only show on hover.
    const labelKey = `${e.to} ${e.label}`;
    if (e.label && (e.weight || (e.kind !== "fallback" && !labelled.has(labelKey)))) {
      labelled.add(labelKey);
      const label = e.weight ? `${e.label} ×${e.weight}` : e.label;
      root.append(svg("text", { x: e.lx + 4, y: e.ly - 3, class: `edge-label ${e.kind}${e.weight ? " taken" : ""}`, text: label }));
    }
  }
  for (const n of g.nodes) {
    const cls = ["node", n.kind, n.active ? "active" : "", n.closure ? "closure" : "", n.repair ? "repair" : ""].join(" ").trim();
    const group = svg("g", { class: cls, "data-node": n.key, transform: `translate(${n.x},${n.y})` });
    if (n.kind === "entry") group.append(svg("rect", { width: n.w, height: n.h, rx: n.h / 2 }));
    else if (n.kind === "terminal") group.append(svg("rect", { width: n.w, height: n.h, rx: 14 }));
    else group.append(svg("rect", { width: n.w, height: n.h, rx: 5 }));
    group.append(svg("text", { x: n.w / 2, y: n.sub ? 17 : n.h / 2 + 4, class: "name", text: n.label }));
    if (n.sub) group.append(svg("text", { x: n.w / 2, y: 33, class: "sub", text: n.closure ? `${n.sub} · closure` : n.sub }));
    const tip = n.outcomes.map(([o, c]) => `${o} ×${c}`).join(", ");
    // Recent outcomes under the box, the most frequent first.
    if (n.outcomes.length) {
      const top = [...n.outcomes].sort((a, b) => b[1] - a[1]).slice(0, 2).map(([o, c]) => `${o} ×${c}`).join(" · ");
      group.append(svg("text", { x: n.w / 2 + 6, y: n.h + 12, class: "outcomes", text: top }));
    }
    group.append(svg("title", { text: `${n.label}${tip ? ` — recent: ${tip}` : ""}` }));
    root.append(group);
  }
  return root;
}

async function renderFlow() {
  try {
    const f = await getJSON(api("/flow"));
    const sections = f.planes.map((g) => {
      const run = g.active;
      return h("section", { class: "panel", "data-plane": g.plane },
        h("h2", { text: `${g.plane} · ${g.loop_name}` }),
        run ? h("p", { class: "active-line" }, "active: ", h("strong", { text: run.node }),
          run.work_item ? h("a", { href: page(WS, `/items/${encodeURIComponent(run.work_item.id)}`), text: ` ${run.work_item.kind} ${run.work_item.id}` }) : "",
          " for ", h("span", { "data-since": run.active_since, text: fmtSecs((Date.now() - Date.parse(run.active_since)) / 1000) })) : h("p", { class: "muted", text: "nothing active" }),
        h("div", { class: "graph" }, drawGraph(g)),
        g.counters.length ? table(["counter", "scope", "value", "limit", "config"], g.counters.map((c) =>
          h("tr", {}, h("td", { text: c.name }), h("td", { text: c.scope }), h("td", { text: c.value ?? "—" }), h("td", { text: c.limit }), h("td", { class: "mono", text: c.config_key || "" })))) : null);
    });
    fill(main, h("h1", { text: `Flow · ${f.mode}` }), h("p", { class: "muted", text: `${f.plan_id} · edges weighted by the last ${f.decisions_counted} routing decisions` }),
      f.problems.length ? h("div", { class: "problems" }, f.problems.map((p) => h("p", { class: "bad", text: p }))) : null, ...sections);
  } catch (err) {
    fill(main, errorPanel(err));
  }
}

// ---- runs, a run, an item ----

function runRow(r) {
  return h("tr", { "data-run": r.run_id },
    h("td", {}, h("a", { href: page(WS, `/runs/${encodeURIComponent(r.run_id)}`), class: "mono", text: r.run_id })),
    h("td", { text: r.plane || "—" }),
    h("td", {}, r.work_item_id ? h("a", { href: page(WS, `/items/${encodeURIComponent(r.work_item_id)}`), text: `${r.work_item_kind} ${r.work_item_id}` }) : "—"),
    h("td", { class: outcomeClass(r.terminal_result), text: r.terminal_result || r.status }),
    h("td", { text: r.failure_class || "" }),
    h("td", { class: "num", text: r.stage_count }),
    h("td", { text: fmtSecs(r.duration_seconds) }),
    h("td", { class: "num", text: num(r.total_tokens) }),
    h("td", { class: "num", text: cost(r.cost_usd) }),
    h("td", { text: fmtTime(r.started_at) }));
}

async function renderRuns() {
  const params = new URLSearchParams(location.search);
  const field = (name, label) => h("label", {}, label, h("input", { name, value: params.get(name) || "", placeholder: "any" }));
  const plane = h("select", { name: "plane" }, ["", "execution", "planning", "learning"].map((p) =>
    h("option", { value: p, selected: (params.get("plane") || "") === p, text: p || "any" })));
  const form = h("form", { class: "filters" }, field("item", "item "), h("label", {}, "plane ", plane),
    field("outcome", "outcome "), h("button", { type: "submit", text: "Filter" }));
  const list = h("div", {});
  fill(main, h("h1", { text: "Runs" }), form, list);
  liveView(async () => {
    try {
      const r = await getJSON(api(`/runs?${params}`));
      fill(list, h("p", { class: "muted", text: `${r.runs.length} shown of ${r.total_runs} runs${r.scan_capped ? " (only the newest were searched)" : ""}` }),
        table(["run", "plane", "work item", "outcome", "failure", "stages", "duration", "tokens", "cost", "started"], r.runs.map(runRow), "runs"),
        r.notes.map((n) => h("p", { class: "muted", text: n })));
    } catch (err) {
      fill(list, errorPanel(err));
    }
  }, (e) => ["stage_completed", "work_item_claimed", "work_item_finished", "work_item_blocked"].includes(e.event_type));
}

function stageRows(stages, runId) {
  return stages.map((s) => h("tr", { "data-request": s.request_id, "data-outcome": s.outcome },
    h("td", { text: s.node || s.stage }),
    h("td", { class: outcomeClass(s.outcome), text: s.outcome }),
    h("td", { text: s.failure_class || "" }),
    h("td", { text: fmtSecs(s.duration_seconds) }),
    h("td", { class: "num", text: num(s.total_tokens) }),
    h("td", { class: "num", text: cost(s.cost_usd) }),
    h("td", { class: "message" }, s.last_message ? h("pre", { text: s.last_message }) : h("span", { class: "muted", text: "—" })),
    h("td", { class: "links" }, (s.artifacts || []).map((name) => h("a", { href: artifactUrl(runId, name), title: name, text: artifactLabel(name, s.request_id) }))),
    h("td", {}, h("a", { href: page(WS, `/runs/${encodeURIComponent(runId)}`), class: "mono", text: runId.slice(-8) }))));
}

const artifactUrl = (runId, name) => api(`/runs/${encodeURIComponent(runId)}/artifacts/${name.split("/").map(encodeURIComponent).join("/")}`);
// `runner_stdout.<rid>.txt` reads `stdout`, `stage_results/<rid>.json` reads `result`.
function artifactLabel(name, rid) {
  if (name.startsWith("stage_results/")) return "result";
  return name.replace(`.${rid}`, "").replace(/^runner_/, "").replace(/\.[a-z]+$/, "");
}

const stageHeaders = ["stage", "outcome", "failure", "duration", "tokens", "cost", "last message", "artifacts", "run"];

async function renderRun() {
  liveView(async () => {
    try {
      const d = await getJSON(api(`/runs/${encodeURIComponent(ARG)}`));
      const r = d.run;
      fill(main, h("h1", { class: "mono", text: r.run_id }),
        card("Run", h("p", {}, h("span", { class: "pill", text: r.status }), h("span", { class: "pill", text: r.plane || "—" }),
          r.work_item_id ? h("a", { class: "pill", href: page(WS, `/items/${encodeURIComponent(r.work_item_id)}`), text: `${r.work_item_kind} ${r.work_item_id}` }) : null,
          h("span", { class: `pill ${outcomeClass(r.terminal_result)}`, text: r.terminal_result || "no result" }),
          ` ${fmtSecs(r.duration_seconds)} · ${num(r.tokens && r.tokens.total_tokens)} tokens · ${cost(r.cost_usd)}`),
          r.notes.map((n) => h("p", { class: "muted", text: n }))),
        card("Stages", table(stageHeaders, stageRows(d.stages, r.run_id), "stages")),
        card("Artifacts", h("ul", { class: "artifacts" }, d.artifacts.map((a) => h("li", {},
          h("a", { href: artifactUrl(r.run_id, a.name), text: a.name }),
          h("span", { class: "muted", text: ` ${num(a.size)} bytes · ${fmtTime(a.modified_at)}` }))))));
    } catch (err) {
      fill(main, errorPanel(err));
    }
  }, (e) => e.run_id === ARG);
}

async function renderItem() {
  liveView(async () => {
    try {
      const d = await getJSON(api(`/items/${encodeURIComponent(ARG)}`));
      const stages = d.history.flatMap((run) => (run.stages ? stageRows(run.stages, run.summary.run_id) : []));
      fill(main, h("h1", {}, `${d.kind} ${d.id} `, h("span", { class: `pill state-${d.state}`, "data-state": d.state, text: d.state_dir })),
        d.block ? h("section", { class: "panel blocked", id: "block" }, h("h2", { text: "Blocked" }),
          h("p", { class: "reason-text", text: d.block.reason || "no reason recorded" }), fixLine(d.block.fix),
          d.block.reasons.length > 1 ? h("p", { class: "muted", text: `blocked ${d.block.reasons.length} times` }) : null) : null,
        d.error ? errorPanel({ code: "mill::document::invalid", message: d.error }) : null,
        card(`History (${d.history.length} ${d.history.length === 1 ? "run" : "runs"})`, stages.length ? table(stageHeaders, stages, "stages") : h("p", { class: "muted", text: "no stage has finished yet" }),
          d.history.filter((run) => (run.other_artifacts || []).length).map((run) => h("p", { class: "links" },
            h("span", { class: "muted", text: `other files of ${run.summary.run_id}: ` }),
            run.other_artifacts.map((name) => h("a", { href: artifactUrl(run.summary.run_id, name), text: name }))))),
        card("Document", h("p", { class: "muted mono", text: d.path }), h("pre", { class: "document", text: d.text || "" })));
    } catch (err) {
      fill(main, errorPanel(err));
    }
  }, (e) => e.work_item === ARG || e.event_type === "stage_completed" || e.event_type === "router_decision");
}

// ---- events ----

// The monitor's words for an event, else its type and what it is about.
function words(e) {
  if (e.text) return e.text;
  const about = [e.work_item, e.data && (e.data.terminal || e.data.reason || e.data.command || e.data.error)].filter(Boolean);
  return about.length ? `${e.event_type.replace(/_/g, " ")}: ${about.join(" · ")}` : `${e.event_type.replace(/_/g, " ")} ${JSON.stringify(e.data)}`;
}

function eventRow(e, live) {
  return h("li", { class: `event ${live ? "fresh" : ""}`, "data-seq": e.seq, "data-type": e.event_type, "data-live": live ? "true" : null },
    h("span", { class: "seq", text: e.seq }), h("span", { class: "time", text: fmtTime(e.occurred_at) }),
    h("span", { class: "type", text: e.event_type }), h("span", { class: "plane", text: e.plane || "" }),
    h("span", { class: "words", text: words(e) }));
}

async function renderEvents() {
  const filter = h("input", { placeholder: "filter: type, plane or words" });
  const list = h("ol", { class: "events", id: "events" });
  fill(main, h("h1", { text: "Events" }), h("p", {}, filter), list);
  const apply = () => {
    const q = filter.value.trim().toLowerCase();
    for (const li of list.children) li.hidden = q && !li.textContent.toLowerCase().includes(q);
  };
  filter.addEventListener("input", apply);
  let seen;
  const load = async () => {
    const r = await getJSON(api("/events?limit=500"));
    seen = r.last_seq;
    fill(list, ...r.events.reverse().map((e) => eventRow(e, false)));
    apply();
  };
  try {
    await load();
  } catch (err) {
    fill(main, errorPanel(err));
    return;
  }
  subscribe(WS, (e) => { list.prepend(eventRow(e, true)); apply(); while (list.children.length > 2000) list.lastChild.remove(); }, load, seen);
}

// ---- start ----

const views = { home: renderHome, workspace: renderWorkspace, flow: () => liveView(renderFlow, (e) => /^(stage_|router_decision|work_item_)/.test(e.event_type)), runs: renderRuns, run: renderRun, item: renderItem, events: renderEvents };
window.__millraceLoadedAt = Date.now();
if (views[VIEW]) {
  Promise.resolve(views[VIEW]()).catch((err) => fill(main, errorPanel(err)));
}
