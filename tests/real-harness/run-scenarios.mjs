#!/usr/bin/env node
// Runs every real harness CLI through every stand-in scenario, with the argv
// Millrace builds today, saves what each printed, and compares the shape of
// each run with the matching capture in tests/fixtures/captures.
//
// Usage: node run-scenarios.mjs [options]
//   --bin DIR          the CLIs (default: $MILLRACE_HARNESS_DIR/node_modules/.bin,
//                      else <repo>/target/real-harness/node_modules/.bin)
//   --out DIR          where runs are saved (default: <repo>/target/real-harness-runs/<time>)
//   --captures DIR     the reference captures (default: $MILLRACE_HARNESS_CAPTURES,
//                      else <repo>/tests/fixtures/captures)
//   --only LIST        comma-separated cli or cli:scenario (e.g. codex,pi:quota)
//   --timeout S        cut-off for a run (default 300; Claude's 401/500 retries take ~3 min)
//   --stall-timeout S  cut-off for stall scenarios (default 20)
//   --reset-in S       quota resets S seconds from now (default: the stand-in's 90 min)
//   --no-isolate       do not run inside a loopback-only network namespace
//   --no-trace         do not record the CLIs' connect() calls with strace
//   --env K=V          add a variable to every CLI's environment (repeatable)
//
// Exit status: 0 when every run matched its capture or expectation, 1 otherwise.
//
// Isolation: when `unshare -n` works (root, or user namespaces), the whole
// suite re-runs itself in a new network namespace where only loopback is up,
// so no CLI can reach anything but the stand-in whatever it tries. With
// strace, every connect()/sendto() to a non-loopback address is still
// recorded and shown in the "net" column, which is how the env in
// harness-env.mjs was checked to stop all outside traffic.

import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { StringDecoder } from "node:string_decoder";
import { fileURLToPath } from "node:url";
import { prepare, MODELS, PI_PROVIDER } from "./harness-env.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const opts = {
    bin: null,
    out: null,
    captures: process.env.MILLRACE_HARNESS_CAPTURES || path.resolve(repo, "tests", "fixtures", "captures"),
    only: null,
    timeout: 300,
    stallTimeout: 20,
    resetIn: null,
    isolate: true,
    trace: true,
    env: {},
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) die(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case "--bin": opts.bin = path.resolve(value()); break;
      case "--out": opts.out = path.resolve(value()); break;
      case "--captures": opts.captures = path.resolve(value()); break;
      case "--only": opts.only = value().split(",").filter(Boolean); break;
      case "--timeout": opts.timeout = Number(value()); break;
      case "--stall-timeout": opts.stallTimeout = Number(value()); break;
      case "--reset-in": opts.resetIn = Number(value()); break;
      case "--no-isolate": opts.isolate = false; break;
      case "--no-trace": opts.trace = false; break;
      case "--env": {
        const kv = value();
        const eq = kv.indexOf("=");
        if (eq < 1) die(`--env wants K=V, got ${kv}`);
        opts.env[kv.slice(0, eq)] = kv.slice(eq + 1);
        break;
      }
      default: die(`unknown argument ${flag}`);
    }
  }
  if (!opts.bin) {
    const dir = process.env.MILLRACE_HARNESS_DIR || path.join(repo, "target", "real-harness");
    opts.bin = path.join(dir, "node_modules", ".bin");
  }
  if (!opts.out) {
    const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
    opts.out = path.join(repo, "target", "real-harness-runs", stamp);
  }
  return opts;
}

function die(message) {
  process.stderr.write(`run-scenarios: ${message}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------- isolation

// Re-runs this script inside a new network namespace with only loopback up.
// Returns false when that is not possible here (then the run goes on as is).
function reexecIsolated() {
  if (process.env.MILLRACE_RH_NETNS === "1") return false;
  const probe = spawnSync("unshare", ["-n", "sh", "-c", "ip link set lo up"], { stdio: "ignore" });
  let prefix = ["unshare", "-n"];
  if (probe.status !== 0) {
    // Not root: a user namespace may still allow a private network one.
    const user = spawnSync("unshare", ["-rn", "sh", "-c", "ip link set lo up"], { stdio: "ignore" });
    if (user.status !== 0) return false;
    prefix = ["unshare", "-rn"];
  }
  const script = 'ip link set lo up && exec "$0" "$@"';
  const child = spawnSync(prefix[0], [...prefix.slice(1), "sh", "-c", script, process.execPath, ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, MILLRACE_RH_NETNS: "1" },
  });
  process.exit(child.status ?? 1);
}

// ---------------------------------------------------------------- the matrix

const PROMPT = [
  "You are the builder stage of a Millrace run.",
  "Do the task, then end your reply with exactly one line naming the outcome:",
  "- ### BUILDER_COMPLETE (success)",
  "- ### BLOCKED (blocked)",
].join("\n");

// The argv Millrace builds today with its default runner config (see
// src/runners/{codex,claude,pi}.rs; gemini is the argv issue 13 specifies).
// `run` is the run directory, `ws` the workspace.
const ARGV = {
  codex: ({ ws, run }) => [
    "exec", "--skip-git-repo-check", "--model", MODELS.codex,
    "--dangerously-bypass-approvals-and-sandbox",
    "--cd", ws, "--json", "--output-last-message", path.join(run, "runner_last_message.txt"), PROMPT,
  ],
  claude: () => ["-p", PROMPT, "--output-format", "stream-json", "--verbose", "--permission-mode", "bypassPermissions"],
  pi: () => ["--mode", "rpc", "--no-session", "--provider", PI_PROVIDER, "--model", MODELS.pi, "--no-context-files", "--no-skills"],
  gemini: () => ["-p", PROMPT, "--output-format", "stream-json", "--approval-mode", "yolo", "--skip-trust", "-m", MODELS.gemini],
};

// One row per run: `variant` picks the env (harness-env.mjs), `program` the
// binary. `capture` names the reference file(s) (without .out/.err);
// `expect` is what must hold where there is no capture, or on top of it.
const CASES = [
  { cli: "codex", scenario: "success", capture: "x-openai_success" },
  { cli: "codex", scenario: "bad_key", expect: { exit: "nonzero", text: /401 Unauthorized/ } },
  { cli: "codex", scenario: "quota", capture: "x-openai_usage_limit" },
  { cli: "codex", scenario: "insufficient_quota", capture: "x-openai_insufficient_quota" },
  { cli: "codex", scenario: "rate_then_success", expect: { exit: 0, text: /### BUILDER_COMPLETE/ } },
  // The capture was made with stream_max_retries = 1 on the provider
  // ("Reconnecting... 1/1"); codex's default is 5, which a Millrace user has.
  { cli: "codex", scenario: "server_error", capture: "x-openai_500",
    known: { counts: "default stream_max_retries 5 (capture: 1): 5 Reconnecting errors, 30 requests" } },
  { cli: "codex", scenario: "stall", expect: { exit: "timeout" } },
  { cli: "codex", scenario: "stall_headers", stall: true, expect: { exit: "timeout" } },
  { cli: "codex", scenario: "unreachable", expect: { exit: "timeout", text: /waiting for network/ } },

  { cli: "claude", scenario: "success", capture: "c-anthropic_success" },
  { cli: "claude", scenario: "bad_key", capture: "c-anthropic_401" },
  { cli: "claude", scenario: "quota", capture: "c-anthropic_429_unified" },
  { cli: "claude", scenario: "rate_then_success", expect: { exit: 0, text: /### BUILDER_COMPLETE/ } },
  { cli: "claude", scenario: "server_error", expect: { exit: "nonzero" } },
  { cli: "claude", scenario: "stall", expect: { exit: "timeout" } },
  { cli: "claude", scenario: "stall_headers", stall: true, expect: { exit: "timeout" } },
  { cli: "claude", variant: "claude-oauth", scenario: "success", expect: { exit: 0, text: /### BUILDER_COMPLETE/ } },
  { cli: "claude", variant: "claude-oauth", scenario: "quota", capture: "c-anthropic_429_unified-oauth" },
  { cli: "claude", variant: "claude-root", scenario: "success", rootOnly: true,
    expect: { exit: 1, stderr: /cannot be used with root\/sudo privileges/ } },

  { cli: "pi", scenario: "success", capture: "p-anthropic_success" },
  { cli: "pi", scenario: "bad_key", capture: "p-anthropic_401" },
  // Pi's SDK sleeps for the hour-long retry-after: a stall, as captured.
  { cli: "pi", scenario: "quota", capture: "p-anthropic_429_unified", stall: true, expect: { exit: "timeout" } },
  { cli: "pi", scenario: "rate_limit", capture: "p-anthropic_429_plain" },
  // The SDK retries a 429 twice before Pi sees it: three failures make one
  // failed Pi attempt, the fourth request succeeds on Pi's first retry.
  { cli: "pi", scenario: "rate_then_success", failCount: 3, capture: "p-anthropic_429_then_success" },
  { cli: "pi", scenario: "server_error", expect: { exit: 0 } },
  { cli: "pi", scenario: "stall", expect: { exit: "timeout" } },
  { cli: "pi", scenario: "stall_headers", stall: true, expect: { exit: "timeout" } },

  // The capture ran with model routing on: five failed router calls (the
  // capture's stand-in answered their JSON request with prose) added their
  // tokens to result.stats. With -m, as Millrace runs it, there is one call.
  { cli: "gemini", scenario: "success", capture: "g-gemini_success-stream-json",
    known: { usage: "capture summed 5 router calls + the turn; with -m only the turn is counted" } },
  { cli: "gemini", scenario: "bad_key", capture: "g-gemini_400_key-stream-json", expect: { exit: 144 } },
  { cli: "gemini", scenario: "quota", capture: "g-gemini_429-stream-json", expect: { exit: 173 } },
  { cli: "gemini", scenario: "rate_then_success", expect: { exit: 0, text: /### BUILDER_COMPLETE/ } },
  { cli: "gemini", scenario: "server_error", expect: { exit: "nonzero" } },
  { cli: "gemini", scenario: "stall", expect: { exit: "timeout" } },
  { cli: "gemini", scenario: "stall_headers", stall: true, expect: { exit: "timeout" } },
];

function selected(opts, c) {
  if (!opts.only) return true;
  const name = c.variant || c.cli;
  return opts.only.some((o) => o === c.cli || o === name || o === `${c.cli}:${c.scenario}` || o === `${name}:${c.scenario}`);
}

// ---------------------------------------------------------------- processes

// Starts the stand-in and resolves with {port, child} once it printed PORT.
function startStandin(scenario, failCount, extra, logFile) {
  return new Promise((resolve, reject) => {
    const log = fs.openSync(logFile, "w");
    const args = [path.join(here, "standin.mjs"), "--scenario", scenario, "--fail-count", String(failCount), ...extra];
    const child = spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", log],
    });
    let buffered = "";
    child.stdout.on("data", (chunk) => {
      buffered += chunk;
      const m = buffered.match(/^PORT (\d+)$/m);
      if (m) resolve({ port: Number(m[1]), child });
    });
    child.on("exit", (code) => reject(new Error(`stand-in exited (${code}) before printing its port`)));
  });
}

function stopStandin(standin) {
  if (!standin || standin.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    standin.child.on("exit", resolve);
    standin.child.kill("SIGTERM");
  });
}

function getJson(port, urlPath) {
  return new Promise((resolve) => {
    http.get({ host: "127.0.0.1", port, path: urlPath }, (res) => {
      let text = "";
      res.on("data", (c) => { text += c; });
      res.on("end", () => {
        try { resolve(JSON.parse(text)); } catch { resolve(null); }
      });
    }).on("error", () => resolve(null));
  });
}

// A port nothing listens on, for the "unreachable" case.
function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Kills the CLI's whole process group: SIGTERM, then SIGKILL after 2 s.
function killGroup(child) {
  try { process.kill(-child.pid, "SIGTERM"); } catch { /* already gone */ }
  setTimeout(() => {
    try { process.kill(-child.pid, "SIGKILL"); } catch { /* already gone */ }
  }, 2000).unref();
}

// Spawns the CLI in its own process group with stdout/stderr to files, and
// calls onLine for every stdout line (Pi's driver needs them).
function spawnCli({ program, args, env, cwd, dir, stdin, trace, onLine }) {
  const out = fs.openSync(path.join(dir, "stdout"), "w");
  const err = fs.openSync(path.join(dir, "stderr"), "w");
  let file = program;
  let argv = args;
  if (trace) {
    file = "strace";
    argv = ["-f", "-qq", "-e", "trace=connect,sendto,sendmsg,sendmmsg", "-o", path.join(dir, "strace.txt"), program, ...args];
  }
  const child = spawn(file, argv, {
    cwd,
    env,
    detached: true,
    stdio: [stdin ? "pipe" : "ignore", "pipe", err],
  });
  // A decoder, not chunk.toString(): a chunk may end inside a character.
  const decoder = new StringDecoder("utf8");
  let partial = "";
  child.stdout.on("data", (chunk) => {
    fs.writeSync(out, chunk);
    partial += decoder.write(chunk);
    let nl;
    while ((nl = partial.indexOf("\n")) >= 0) {
      const line = partial.slice(0, nl).replace(/\r$/, "");
      partial = partial.slice(nl + 1);
      if (onLine) onLine(line);
    }
  });
  const exited = new Promise((resolve) => {
    child.on("close", (code, signal) => {
      fs.closeSync(out);
      fs.closeSync(err);
      resolve({ code, signal });
    });
  });
  return { child, exited };
}

// ---------------------------------------------------------------- Pi's RPC

// Drives one Pi RPC exchange the way a correct client must: send the prompt,
// then read until the agent has ended AND no retry is pending. Pi emits
// agent_end after a failed attempt, then auto_retry_start ... a new
// agent_start ... agent_end, and auto_retry_end when it gives up or
// succeeds; a client that stops at the first agent_end kills a run Pi
// would have finished. Then asks for the final text and the session stats,
// like src/runners/pi.rs, and closes stdin.
function piDriver(child, prompt, notes, started) {
  const SETTLE_MS = 1500;
  const state = { agentEnds: 0, retryOpen: false, endedSinceRetry: false, firstAgentEndAt: null, waiting: new Map() };
  let settle = null;
  let finished;
  const done = new Promise((resolve) => { finished = resolve; });

  const send = (obj) => {
    if (child.stdin.writable) child.stdin.write(JSON.stringify(obj) + "\n");
  };
  const ask = (id, type) => new Promise((resolve) => {
    const timer = setTimeout(() => { state.waiting.delete(id); resolve(null); }, 5000);
    state.waiting.set(id, (msg) => { clearTimeout(timer); resolve(msg); });
    send({ id, type });
  });
  const maybeSettle = () => {
    clearTimeout(settle);
    if (state.endedSinceRetry && !state.retryOpen) {
      // Pi announces a retry right after agent_end; give it a moment.
      settle = setTimeout(async () => {
        const text = await ask("last-text", "get_last_assistant_text");
        const stats = await ask("stats", "get_session_stats");
        notes.lastText = text?.data?.text ?? null;
        notes.stats = stats?.data ?? null;
        child.stdin.end();
        finished();
      }, SETTLE_MS);
    }
  };
  const onLine = (line) => {
    let msg;
    try { msg = JSON.parse(line); } catch { return; }
    if (msg.type === "response" && msg.id && state.waiting.has(msg.id)) {
      state.waiting.get(msg.id)(msg);
      state.waiting.delete(msg.id);
      return;
    }
    if (msg.type === "response" && msg.id === "prompt-1" && msg.success === false) {
      notes.promptRejected = msg.error || true;
      child.stdin.end();
      finished();
      return;
    }
    if (msg.type === "agent_end") {
      state.agentEnds += 1;
      state.endedSinceRetry = true;
      if (state.firstAgentEndAt === null) state.firstAgentEndAt = Date.now();
      // When the turn really ended, for timing (the driver waits after it).
      notes.agentEnds = state.agentEnds;
      notes.lastAgentEndMs = Date.now() - started;
      notes.firstAgentEndMs = state.firstAgentEndAt - started;
      maybeSettle();
    } else if (msg.type === "auto_retry_start") {
      state.retryOpen = true;
      state.endedSinceRetry = false;
      clearTimeout(settle);
    } else if (msg.type === "auto_retry_end") {
      state.retryOpen = false;
      maybeSettle();
    }
  };
  const start = () => send({ id: "prompt-1", type: "prompt", message: prompt });
  return { onLine, start, done, state };
}

// ---------------------------------------------------------------- one run

async function runCase(opts, c) {
  const name = `${c.variant || c.cli}-${c.scenario}`;
  const dir = path.join(opts.out, name);
  fs.rmSync(dir, { recursive: true, force: true });
  const ws = path.join(dir, "ws");
  const run = path.join(dir, "run");
  fs.mkdirSync(ws, { recursive: true });
  fs.mkdirSync(run, { recursive: true });

  let standin = null;
  let port;
  if (c.scenario === "unreachable") {
    port = await freePort();
  } else {
    const extra = opts.resetIn === null ? [] : ["--reset-in", String(opts.resetIn)];
    standin = await startStandin(c.scenario, c.failCount ?? 1, extra, path.join(dir, "standin.log"));
    port = standin.port;
  }
  const baseUrl = `http://127.0.0.1:${port}`;
  const env = { ...prepare(c.variant || c.cli, dir, baseUrl), ...opts.env };
  const program = path.join(opts.bin, c.cli);
  const args = ARGV[c.cli]({ ws, run });
  const stalls = c.stall || c.scenario === "stall" || c.scenario === "unreachable";
  const limit = (stalls ? opts.stallTimeout : opts.timeout) * 1000;
  fs.writeFileSync(path.join(dir, "invocation.json"), JSON.stringify({ program, args, cwd: ws, env }, null, 2) + "\n");

  const notes = {};
  const isPi = c.cli === "pi";
  let driver = null;
  const started = Date.now();
  const proc = spawnCli({
    program, args, env, cwd: ws, dir, stdin: isPi, trace: opts.trace,
    onLine: (line) => driver?.onLine(line),
  });
  if (isPi) {
    driver = piDriver(proc.child, PROMPT, notes, started);
    proc.child.stdin.on("error", () => { /* Pi gone: the exit says why */ });
    driver.start();
  }
  let timedOut = false;
  const timer = setTimeout(() => { timedOut = true; killGroup(proc.child); }, limit);
  if (driver) {
    // Pi exits only when stdin closes; if it does not, cut it off.
    driver.done.then(() => setTimeout(() => killGroup(proc.child), 3000).unref());
  }
  const exit = await proc.exited;
  clearTimeout(timer);
  const wallMs = Date.now() - started;
  // Anything of the group still alive (helpers the CLI left behind) goes too.
  try { process.kill(-proc.child.pid, "SIGKILL"); } catch { /* none left */ }

  const requests = standin ? (await getJson(port, "/_standin/requests")) || [] : [];
  await stopStandin(standin);
  fs.writeFileSync(path.join(dir, "requests.json"), JSON.stringify(requests, null, 2) + "\n");
  const modelRequests = requests.filter((r) => ["openai", "anthropic", "gemini"].includes(r.kind));
  const firstModelMs = modelRequests.length ? Date.parse(modelRequests[0].at) - started : null;

  const result = {
    cli: c.variant || c.cli,
    scenario: c.scenario,
    exitCode: exit.code,
    signal: exit.signal,
    timedOut,
    wallMs,
    firstModelRequestMs: firstModelMs,
    modelRequests: modelRequests.length,
    otherRequests: requests.filter((r) => !["openai", "anthropic", "gemini", "control"].includes(r.kind)).map((r) => `${r.method} ${r.url}`),
    outsideTraffic: opts.trace ? outsideTraffic(path.join(dir, "strace.txt")) : null,
    pi: isPi ? notes : undefined,
  };
  const stdout = fs.readFileSync(path.join(dir, "stdout"), "utf8");
  const stderr = fs.readFileSync(path.join(dir, "stderr"), "utf8");
  const lastMessageFile = path.join(run, "runner_last_message.txt");
  const lastMessage = fs.existsSync(lastMessageFile) ? fs.readFileSync(lastMessageFile, "utf8") : null;
  const verdict = judge(opts, c, result, stdout, stderr, lastMessage);
  Object.assign(result, verdict);
  fs.writeFileSync(path.join(dir, "result.json"), JSON.stringify(result, null, 2) + "\n");
  return result;
}

// Non-loopback destinations in an strace log of connect/send calls.
function outsideTraffic(file) {
  if (!fs.existsSync(file)) return [];
  const seen = new Set();
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!/AF_INET6?/.test(line)) continue;
    const v4 = line.match(/sin_port=htons\((\d+)\), sin_addr=inet_addr\("([\d.]+)"\)/);
    const v6 = line.match(/sin6_port=htons\((\d+)\).*inet_pton\(AF_INET6, "([^"]+)"/);
    const [port, addr] = v4 ? [v4[1], v4[2]] : v6 ? [v6[1], v6[2]] : [null, null];
    if (!addr || addr.startsWith("127.") || addr === "::1" || addr === "0.0.0.0") continue;
    seen.add(`${addr}:${port}`);
  }
  return [...seen];
}

// ---------------------------------------------------------------- shapes

// Texts that differ between any two runs: clock times, ports, ids, paths.
function normalize(text) {
  return String(text ?? "")
    // A reset on another day carries the date too: "Dec 2nd, 2026 10:24 PM".
    .replace(/\b[A-Z][a-z]{2} \d{1,2}(st|nd|rd|th)?,? (\d{4},? )?(?=\d{1,2}:\d{2})/g, "")
    .replace(/\b\d{1,2}:\d{2}\s?(AM|PM|am|pm)\b/g, "<time>")
    .replace(/127\.0\.0\.1:\d+/g, "127.0.0.1:<port>")
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<id>")
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z/g, "<stamp>")
    .trim();
}

function jsonLines(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line.trim().startsWith("{")) continue;
    try { out.push(JSON.parse(line)); } catch { /* not an event */ }
  }
  return out;
}

// Collapses runs of the same entry, keeping counts aside.
function collapse(list) {
  const seq = [];
  const counts = {};
  for (const t of list) {
    counts[t] = (counts[t] || 0) + 1;
    if (seq[seq.length - 1] !== t) seq.push(t);
  }
  return { seq, counts };
}

// The shape of one run's stdout: its event sequence and the few strings a
// runner classifies by.
const SHAPE = {
  codex(events) {
    const types = events.map((e) => (e.type === "item.completed" ? `item.completed:${e.item?.type}` : e.type));
    const failed = [...events].reverse().find((e) => e.type === "turn.failed");
    const message = [...events].reverse().find((e) => e.type === "item.completed" && e.item?.type === "agent_message");
    return {
      ...collapse(types),
      key: {
        error: failed ? normalize(failed.error?.message) : null,
        text: message ? message.item.text : null,
        usage: events.find((e) => e.type === "turn.completed")?.usage ?? null,
      },
    };
  },
  claude(events) {
    const types = events.map((e) => [e.type, e.subtype].filter(Boolean).join("/"));
    const result = events.find((e) => e.type === "result");
    const rate = events.find((e) => e.type === "rate_limit_event");
    return {
      ...collapse(types),
      key: {
        subtype: result?.subtype ?? null,
        is_error: result?.is_error ?? null,
        api_error_status: result?.api_error_status ?? null,
        text: normalize(result?.result),
        rate_limit_status: rate?.rate_limit_info?.status ?? null,
        usage: result && !result.is_error
          ? pick(result.usage, ["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens"])
          : null,
      },
    };
  },
  pi(events) {
    const records = events.filter((e) => e.type !== "response" && e.type !== "message_update");
    const types = records.map((e) => e.type);
    const last = [...events].reverse().find((e) => e.type === "agent_end");
    const assistant = last?.messages?.filter((m) => m.role === "assistant").pop();
    return {
      ...collapse(types),
      key: {
        stopReason: assistant?.stopReason ?? null,
        error: assistant?.errorMessage ? normalize(assistant.errorMessage) : null,
        text: assistant?.content?.filter((p) => p.type === "text").map((p) => p.text).join("") || null,
        agent_end: types.filter((t) => t === "agent_end").length,
        retries: types.filter((t) => t === "auto_retry_start").length,
        usage: assistant && assistant.stopReason !== "error" ? pick(assistant.usage, ["input", "output", "cacheRead", "cacheWrite", "totalTokens"]) : null,
      },
    };
  },
  gemini(events) {
    const types = events.map((e) => (e.type === "message" ? `message:${e.role}` : e.type === "result" ? `result:${e.status}` : e.type));
    const result = events.find((e) => e.type === "result");
    const text = events.filter((e) => e.type === "message" && e.role === "assistant").map((e) => e.content).join("");
    return {
      ...collapse(types),
      key: {
        status: result?.status ?? null,
        error: result?.error ? normalize(result.error.message) : null,
        text: text || null,
        usage: result?.status === "success" ? pick(result.stats, ["total_tokens", "input_tokens", "output_tokens", "cached", "input"]) : null,
      },
    };
  },
};

function pick(obj, keys) {
  if (!obj) return null;
  return Object.fromEntries(keys.map((k) => [k, obj[k]]));
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

// Compares a run with its capture and its expectation; returns
// {capture, matches, diffs}.
function judge(opts, c, result, stdout, stderr, lastMessage) {
  const diffs = [];
  const known = [];
  let capture = null;
  if (c.capture) {
    const file = path.join(opts.captures, `${c.capture}.out`);
    if (fs.existsSync(file)) {
      capture = c.capture;
      const want = SHAPE[c.cli](jsonLines(fs.readFileSync(file, "utf8")));
      const got = SHAPE[c.cli](jsonLines(stdout));
      if (!same(want.seq, got.seq)) {
        diffs.push(`events: capture ${want.seq.join(" > ")} | run ${got.seq.join(" > ")}`);
      } else {
        for (const [t, n] of Object.entries(want.counts)) {
          if (got.counts[t] === n) continue;
          const line = `${t} x${got.counts[t]} (capture x${n})`;
          if (c.known?.counts) known.push(`(known) ${line} [${c.known.counts}]`);
          else diffs.push(line);
        }
      }
      for (const [k, v] of Object.entries(want.key)) {
        if (same(v, got.key[k])) continue;
        const line = `${k}: capture ${JSON.stringify(v)} | run ${JSON.stringify(got.key[k])}`;
        // A difference understood and accepted is shown but does not fail.
        if (c.known?.[k]) known.push(`(known) ${line} [${c.known[k]}]`);
        else diffs.push(line);
      }
      // The captures do not record exit codes: success must be 0, the rest not.
      const okWanted = want.key.text && /### /.test(want.key.text) && !want.key.error && want.key.is_error !== true;
      if (okWanted && result.exitCode !== 0) diffs.push(`exit ${result.exitCode}, capture is a success`);
      if (!okWanted && c.cli !== "pi" && result.exitCode === 0) diffs.push("exit 0 for a failure capture");
    } else {
      diffs.push(`capture ${c.capture}.out not found in ${opts.captures}`);
    }
  }
  const e = c.expect || {};
  if (e.exit === "timeout" && !result.timedOut) diffs.push(`expected a stall cut off by the timeout, exited ${result.exitCode}`);
  if (e.exit !== "timeout" && result.timedOut) diffs.push("timed out");
  if (e.exit === "nonzero" && result.exitCode === 0) diffs.push("expected a non-zero exit");
  if (typeof e.exit === "number" && result.exitCode !== e.exit) diffs.push(`exit ${result.exitCode}, expected ${e.exit}`);
  const text = stdout + (lastMessage || "") + (result.pi?.lastText || "");
  if (e.text && !e.text.test(text)) diffs.push(`stdout lacks ${e.text}`);
  if (e.stderr && !e.stderr.test(stderr)) diffs.push(`stderr lacks ${e.stderr}`);
  if (result.outsideTraffic?.length) diffs.push(`outside traffic: ${result.outsideTraffic.join(" ")}`);
  return { capture, matches: diffs.length === 0, diffs: [...diffs, ...known] };
}

// ---------------------------------------------------------------- main

function table(results) {
  const rows = results.map((r) => [
    r.cli,
    r.scenario,
    r.timedOut ? `cut@${Math.round(r.wallMs / 1000)}s` : String(r.exitCode ?? r.signal),
    `${(r.wallMs / 1000).toFixed(1)}s`,
    r.firstModelRequestMs === null ? "-" : `${(r.firstModelRequestMs / 1000).toFixed(1)}s`,
    String(r.modelRequests),
    r.outsideTraffic === null ? "?" : r.outsideTraffic.length ? "OUTSIDE" : "lo",
    r.capture || "-",
    r.matches ? "yes" : "NO",
    r.diffs.join("; "),
  ]);
  const head = ["cli", "scenario", "exit", "wall", "1st req", "reqs", "net", "capture", "match", "differences"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (i === 9 ? 0 : row[i].length))));
  const fmt = (row) => row.map((cell, i) => (i === 9 ? cell : cell.padEnd(widths[i]))).join("  ");
  return [fmt(head), ...rows.map(fmt)].join("\n");
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.isolate) reexecIsolated();
  if (opts.trace && spawnSync("strace", ["-V"], { stdio: "ignore" }).status !== 0) opts.trace = false;
  for (const cli of Object.keys(ARGV)) {
    if (!fs.existsSync(path.join(opts.bin, cli))) die(`${cli} not found in ${opts.bin}; run install.sh first`);
  }
  fs.mkdirSync(opts.out, { recursive: true });
  const isRoot = process.getuid?.() === 0;
  process.stdout.write(
    `real-harness: bin ${opts.bin}\n` +
    `real-harness: out ${opts.out}\n` +
    `real-harness: network ${process.env.MILLRACE_RH_NETNS === "1" ? "private namespace, loopback only" : "shared with the host"}` +
    `; strace ${opts.trace ? "on" : "off"}\n`,
  );
  const started = Date.now();
  const results = [];
  for (const c of CASES) {
    if (!selected(opts, c)) continue;
    if (c.rootOnly && !isRoot) continue;
    process.stdout.write(`... ${c.variant || c.cli} ${c.scenario}\n`);
    const r = await runCase(opts, c);
    process.stdout.write(`    exit=${r.timedOut ? "timeout" : r.exitCode} ${(r.wallMs / 1000).toFixed(1)}s ${r.matches ? "ok" : "DIFFERS: " + r.diffs.join("; ")}\n`);
    results.push(r);
  }
  const report = table(results);
  fs.writeFileSync(path.join(opts.out, "table.txt"), report + "\n");
  fs.writeFileSync(path.join(opts.out, "results.json"), JSON.stringify(results, null, 2) + "\n");
  const failed = results.filter((r) => !r.matches).length;
  process.stdout.write(`\n${report}\n\n${results.length - failed} passed, ${failed} failed\n`);
  process.stdout.write(`real-harness: suite took ${Math.round((Date.now() - started) / 1000)} s\n`);
  process.exit(failed ? 1 : 0);
}

main().catch((err) => {
  process.stderr.write(`run-scenarios: ${err.stack}\n`);
  process.exit(2);
});
