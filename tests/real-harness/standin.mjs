#!/usr/bin/env node
// A loopback stand-in for three model APIs, so the real harness CLIs can run
// one turn without a real model:
//
//   OpenAI Responses   POST .../responses                     (codex)
//   Anthropic Messages POST .../v1/messages                   (claude, pi)
//   Gemini             POST .../models/M:streamGenerateContent (gemini)
//                      POST .../models/M:generateContent
//
// One server answers all three; the path says which API is meant, so each CLI
// can be pointed at the same base URL. What a model request gets back is the
// scenario, chosen with --scenario at start and changeable at run time:
//
//   success            an assistant message ending in "### <marker>", with usage
//   bad_key            401 (OpenAI, Anthropic) / 400 API_KEY_INVALID (Gemini)
//   quota              OpenAI 429 usage_limit_reached with resets_at; Anthropic
//                      429 with the anthropic-ratelimit-unified-* headers;
//                      Gemini 429 RESOURCE_EXHAUSTED (daily quota)
//   insufficient_quota OpenAI 429 insufficient_quota (others: as quota)
//   rate_limit         every model request gets a plain, retryable 429
//                      (a per-minute limit: no reset window, no unified headers)
//   rate_then_success  the first --fail-count model requests get that 429,
//                      the rest succeed
//   server_error       500
//   stall              the request is read and never answered
//   stall_headers      200 and streaming headers, then nothing
//
// Control endpoints (not part of any real API):
//   POST /_standin/scenario  {"scenario": "...", "marker": "...", "failCount": n}
//                            switches the scenario and resets the counter
//   GET  /_standin/requests  every request seen so far, as JSON
//
// Every request is logged to stderr, one line each, so one can see what a CLI
// asks for. The first stdout line is "PORT <n>". Zero dependencies: node:http.
//
// Usage: node standin.mjs [--scenario S] [--marker M] [--reply TEXT]
//                         [--fail-count N] [--port N] [--max-seconds N]
//                         [--reset-in SECONDS]

import http from "node:http";
import { randomUUID } from "node:crypto";

const SCENARIOS = [
  "success",
  "bad_key",
  "quota",
  "insufficient_quota",
  "rate_limit",
  "rate_then_success",
  "server_error",
  "stall",
  "stall_headers",
];

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const opts = {
    scenario: "success",
    marker: "BUILDER_COMPLETE",
    reply: "I wrote src/hello.txt.",
    failCount: 1,
    port: 0,
    // A stand-in left behind by a crashed test run must not live for ever.
    maxSeconds: 900,
    resetIn: 5400,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${flag} needs a value`);
      return argv[++i];
    };
    switch (flag) {
      case "--scenario": opts.scenario = value(); break;
      case "--marker": opts.marker = value(); break;
      case "--reply": opts.reply = value(); break;
      case "--fail-count": opts.failCount = Number(value()); break;
      case "--port": opts.port = Number(value()); break;
      case "--max-seconds": opts.maxSeconds = Number(value()); break;
      case "--reset-in": opts.resetIn = Number(value()); break;
      default: usage(`unknown argument ${flag}`);
    }
  }
  if (!SCENARIOS.includes(opts.scenario)) usage(`unknown scenario ${opts.scenario}`);
  return opts;
}

function usage(message) {
  process.stderr.write(`standin: ${message}\nscenarios: ${SCENARIOS.join(", ")}\n`);
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));

// The mutable state: the scenario in force and how many model requests it
// has answered (rate_then_success fails the first ones).
const state = {
  scenario: opts.scenario,
  marker: opts.marker,
  failCount: opts.failCount,
  modelRequests: 0,
  seen: [],
};

function assistantText() {
  return `${opts.reply}\n\n### ${state.marker}`;
}

// The reset time of quota scenarios: --reset-in seconds from now (default
// 90 min), on a whole minute, so a parsed "try again at 10:24 PM" can be
// checked against it. CLIs add the date when the reset is not today.
function resetEpoch() {
  const t = Math.floor(Date.now() / 1000) + opts.resetIn;
  return t - (t % 60);
}

// What the scenario means for this model request: "success", or the name of
// an error. rate_then_success turns into rate_limit for its first requests.
function outcome() {
  state.modelRequests += 1;
  if (state.scenario === "rate_then_success") {
    return state.modelRequests <= state.failCount ? "rate_limit" : "success";
  }
  // rate_limit is answered as is: each API below has its own plain 429.
  return state.scenario;
}

// ---------------------------------------------------------------- helpers

function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function startSse(res, headers = {}) {
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
    ...headers,
  });
  // Headers go out now, not with the first event: stall_headers relies on it.
  res.flushHeaders();
}

// One SSE event; `event` is omitted for APIs that send data lines only.
function sseEvent(res, event, data) {
  const head = event ? `event: ${event}\n` : "";
  res.write(`${head}data: ${JSON.stringify(data)}\n\n`);
}

// Stalled requests are parked here so shutdown can cut them.
const parked = new Set();

function stall(res, withHeaders) {
  if (withHeaders) startSse(res);
  parked.add(res);
  res.on("close", () => parked.delete(res));
}

// ---------------------------------------------------------------- OpenAI

// Codex streams POST /responses and reads response.* events. The usage
// figures are the ones in the captures, so runs can be compared with them.
function openaiResponses(req, res, body) {
  const result = outcome();
  if (result === "stall" || result === "stall_headers") return stall(res, result === "stall_headers");
  if (result === "bad_key") {
    return sendJson(res, 401, {
      error: {
        message: "Incorrect API key provided: dummy. You can find your API key at https://platform.openai.com/account/api-keys.",
        type: "invalid_request_error",
        param: null,
        code: "invalid_api_key",
      },
    });
  }
  if (result === "quota") {
    // A ChatGPT-plan limit: codex turns resets_at into "try again at <time>".
    const resetsAt = resetEpoch();
    return sendJson(res, 429, {
      error: {
        type: "usage_limit_reached",
        message: "The usage limit has been reached",
        plan_type: "plus",
        resets_at: resetsAt,
        resets_in_seconds: resetsAt - Math.floor(Date.now() / 1000),
      },
    });
  }
  if (result === "insufficient_quota") {
    // An API-key account out of credit: no window that resets.
    return sendJson(res, 429, {
      error: {
        message: "You exceeded your current quota, please check your plan and billing details.",
        type: "insufficient_quota",
        param: null,
        code: "insufficient_quota",
      },
    });
  }
  if (result === "rate_limit") {
    return sendJson(res, 429, {
      error: {
        message: "Rate limit reached for requests. Please try again in 1s.",
        type: "requests",
        param: null,
        code: "rate_limit_exceeded",
      },
    }, { "retry-after": "1" });
  }
  if (result === "server_error") {
    return sendJson(res, 500, {
      error: {
        message: "The server had an error while processing your request. Sorry about that!",
        type: "server_error",
        param: null,
        code: null,
      },
    });
  }

  const text = assistantText();
  const responseId = `resp_${randomUUID().replaceAll("-", "")}`;
  const itemId = `msg_${randomUUID().replaceAll("-", "")}`;
  const model = body.model || "gpt-mock";
  startSse(res);
  sseEvent(res, "response.created", {
    type: "response.created",
    response: { id: responseId, object: "response", status: "in_progress", model },
  });
  sseEvent(res, "response.output_item.added", {
    type: "response.output_item.added",
    output_index: 0,
    item: { id: itemId, type: "message", role: "assistant", status: "in_progress", content: [] },
  });
  sseEvent(res, "response.output_text.delta", {
    type: "response.output_text.delta",
    item_id: itemId,
    output_index: 0,
    content_index: 0,
    delta: text,
  });
  const item = {
    id: itemId,
    type: "message",
    role: "assistant",
    status: "completed",
    content: [{ type: "output_text", text, annotations: [] }],
  };
  sseEvent(res, "response.output_item.done", { type: "response.output_item.done", output_index: 0, item });
  sseEvent(res, "response.completed", {
    type: "response.completed",
    response: {
      id: responseId,
      object: "response",
      status: "completed",
      model,
      output: [item],
      usage: {
        input_tokens: 1234,
        input_tokens_details: { cached_tokens: 200 },
        output_tokens: 56,
        output_tokens_details: { reasoning_tokens: 7 },
        total_tokens: 1290,
      },
    },
  });
  res.end();
}

// ---------------------------------------------------------------- Anthropic

// The unified rate-limit headers a subscription (and, since 2026, an API-key)
// account gets; Claude Code turns them into rate_limit_event and the
// "You've hit your 5-hour limit · resets <time>" text.
function unifiedHeaders(status, utilization) {
  const reset = String(resetEpoch());
  return {
    "anthropic-ratelimit-unified-status": status,
    "anthropic-ratelimit-unified-reset": reset,
    "anthropic-ratelimit-unified-representative-claim": "five_hour",
    "anthropic-ratelimit-unified-5h-status": status,
    "anthropic-ratelimit-unified-5h-reset": reset,
    "anthropic-ratelimit-unified-5h-utilization": String(utilization),
    "anthropic-ratelimit-unified-7d-status": "allowed",
    "anthropic-ratelimit-unified-7d-reset": String(Number(reset) + 6 * 86400),
    "anthropic-ratelimit-unified-7d-utilization": "0.42",
    "anthropic-ratelimit-unified-overage-status": "rejected",
    "anthropic-ratelimit-unified-overage-disabled-reason": "org_level_disabled",
    "anthropic-ratelimit-unified-fallback-percentage": "0.5",
  };
}

function anthropicError(res, status, type, message, headers = {}, withRequestId = true) {
  const body = { type: "error", error: { type, message } };
  if (withRequestId) body.request_id = "req_mock";
  sendJson(res, status, body, { "request-id": "req_mock", ...headers });
}

function anthropicMessages(req, res, body) {
  const result = outcome();
  if (result === "stall" || result === "stall_headers") return stall(res, result === "stall_headers");
  if (result === "bad_key") {
    // An OAuth token gets the bearer-token wording, an API key the x-api-key one.
    const oauth = !req.headers["x-api-key"] && /^Bearer /i.test(req.headers.authorization || "");
    return anthropicError(res, 401, "authentication_error",
      oauth ? "Invalid bearer token" : "invalid x-api-key");
  }
  if (result === "quota" || result === "insufficient_quota") {
    // retry-after is the time to the reset (an hour and more). Claude Code
    // does not retry a rejected unified limit; Pi's Anthropic SDK honours
    // retry-after as given and sleeps until then, which is the stall in the
    // p-anthropic_429_unified capture. (x-should-retry: false would stop
    // the SDK retrying; the captures were made without it.)
    const headers = unifiedHeaders("rejected", 1);
    const wait = Number(headers["anthropic-ratelimit-unified-reset"]) - Math.floor(Date.now() / 1000);
    return anthropicError(res, 429, "rate_limit_error",
      "This request would exceed your account's rate limit. Please try again later.",
      { ...headers, "retry-after": String(wait) });
  }
  if (result === "rate_limit") {
    // A per-minute limit: retryable, no unified headers.
    // The SDK inside Pi retries this twice itself before Pi sees it.
    return anthropicError(res, 429, "rate_limit_error",
      "Number of request tokens has exceeded your per-minute rate limit",
      { "retry-after": "1" }, false);
  }
  if (result === "server_error") {
    return anthropicError(res, 500, "api_error", "Internal server error");
  }

  const text = assistantText();
  const model = body.model || "claude-mock";
  const messageId = `msg_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
  // Claude Code reads the allowed-window headers on success too.
  startSse(res, unifiedHeaders("allowed", 0.12));
  if (body.stream === false) {
    // Not seen from the CLIs so far, but cheap to answer correctly.
    res.end();
    return;
  }
  sseEvent(res, "message_start", {
    type: "message_start",
    message: {
      id: messageId,
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 321, cache_creation_input_tokens: 100, cache_read_input_tokens: 50, output_tokens: 1 },
    },
  });
  sseEvent(res, "content_block_start", {
    type: "content_block_start",
    index: 0,
    content_block: { type: "text", text: "" },
  });
  sseEvent(res, "content_block_delta", {
    type: "content_block_delta",
    index: 0,
    delta: { type: "text_delta", text },
  });
  sseEvent(res, "content_block_stop", { type: "content_block_stop", index: 0 });
  sseEvent(res, "message_delta", {
    type: "message_delta",
    delta: { stop_reason: "end_turn", stop_sequence: null },
    usage: { output_tokens: 42 },
  });
  sseEvent(res, "message_stop", { type: "message_stop" });
  res.end();
}

// ---------------------------------------------------------------- Gemini

function geminiError(res, status, code, message, statusText, details) {
  const error = { code, message, status: statusText };
  if (details) error.details = details;
  sendJson(res, status, { error });
}

// A value that fits a (JSON-)schema, for Gemini's utility calls (model
// routing, next-speaker checks) that ask for structured JSON. Answering
// them properly keeps the CLI from retrying them and failing over.
function fromSchema(schema) {
  if (!schema || typeof schema !== "object") return {};
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  const type = String(schema.type || (schema.properties ? "object" : "string")).toLowerCase();
  if (type === "object") {
    const out = {};
    for (const [key, sub] of Object.entries(schema.properties || {})) out[key] = fromSchema(sub);
    return out;
  }
  if (type === "array") return [];
  if (type === "integer" || type === "number") {
    const lo = typeof schema.minimum === "number" ? schema.minimum : 1;
    return Math.max(lo, 1);
  }
  if (type === "boolean") return false;
  return "standin";
}

function geminiContent(req, res, body, streaming) {
  const result = outcome();
  if (result === "stall" || result === "stall_headers") return stall(res, result === "stall_headers");
  if (result === "bad_key") {
    return geminiError(res, 400, 400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT", [
      { "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "API_KEY_INVALID", domain: "googleapis.com" },
    ]);
  }
  if (result === "quota" || result === "insufficient_quota") {
    // A per-day quota: the CLI calls it terminal ("exhausted your daily quota").
    return geminiError(res, 429, 429,
      "You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
      "RESOURCE_EXHAUSTED", [
        {
          "@type": "type.googleapis.com/google.rpc.QuotaFailure",
          violations: [{
            quotaMetric: "generativelanguage.googleapis.com/generate_content_free_tier_requests",
            quotaId: "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
            quotaDimensions: { location: "global", model: "gemini-mock" },
            quotaValue: "250",
          }],
        },
        {
          "@type": "type.googleapis.com/google.rpc.Help",
          links: [{ description: "Learn more about Gemini API quotas", url: "https://ai.google.dev/gemini-api/docs/rate-limits" }],
        },
      ]);
  }
  if (result === "rate_limit") {
    // A per-minute quota with a retry delay: the CLI retries it.
    return geminiError(res, 429, 429,
      "You exceeded your current quota, please check your plan and billing details.",
      "RESOURCE_EXHAUSTED", [
        {
          "@type": "type.googleapis.com/google.rpc.QuotaFailure",
          violations: [{
            quotaMetric: "generativelanguage.googleapis.com/generate_content_free_tier_requests",
            quotaId: "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
            quotaValue: "10",
          }],
        },
        { "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "1s" },
      ]);
  }
  if (result === "server_error") {
    return geminiError(res, 500, 500, "Internal error encountered.", "INTERNAL");
  }

  // A request for structured output is a utility call, not the turn.
  const config = body.generationConfig || {};
  const schema = config.responseJsonSchema || config.responseSchema;
  const text = config.responseMimeType === "application/json" ? JSON.stringify(fromSchema(schema)) : assistantText();
  const chunk = {
    candidates: [{ content: { role: "model", parts: [{ text }] }, finishReason: "STOP", index: 0 }],
    usageMetadata: {
      promptTokenCount: 1500,
      candidatesTokenCount: 40,
      cachedContentTokenCount: 300,
      thoughtsTokenCount: 20,
      totalTokenCount: 1560,
    },
    modelVersion: req.url.match(/models\/([^:/?]+)/)?.[1] || "gemini-mock",
    responseId: randomUUID(),
  };
  if (!streaming) return sendJson(res, 200, chunk);
  startSse(res);
  sseEvent(res, null, chunk);
  res.end();
}

// ---------------------------------------------------------------- routing

// Start-up traffic that is not a model turn: answer harmlessly so nothing
// waits on it. Returns true when it answered.
function harmless(req, res, path, body) {
  if (path.endsWith("/messages/count_tokens")) {
    sendJson(res, 200, { input_tokens: 321 });
    return true;
  }
  if (/:countTokens$/.test(path)) {
    sendJson(res, 200, { totalTokens: 1500 });
    return true;
  }
  if (req.method === "GET" && /\/models$/.test(path)) {
    // Both list shapes at once: OpenAI's {data} and codex's own {models}.
    sendJson(res, 200, {
      object: "list",
      data: [{ id: "gpt-mock", object: "model", created: 0, owned_by: "standin" }],
      models: [],
    });
    return true;
  }
  return false;
}

function route(req, res, body) {
  const path = new URL(req.url, "http://standin").pathname;
  if (path === "/_standin/scenario" && req.method === "POST") {
    let change = {};
    try { change = JSON.parse(body.toString() || "{}"); } catch { /* keep {} */ }
    if (change.scenario && !SCENARIOS.includes(change.scenario)) {
      return sendJson(res, 400, { error: `unknown scenario ${change.scenario}` });
    }
    state.scenario = change.scenario || state.scenario;
    state.marker = change.marker || state.marker;
    state.failCount = Number.isFinite(change.failCount) ? change.failCount : state.failCount;
    state.modelRequests = 0;
    sendJson(res, 200, { scenario: state.scenario, marker: state.marker, failCount: state.failCount });
    return "control";
  }
  if (path === "/_standin/requests") {
    sendJson(res, 200, state.seen);
    return "control";
  }

  let json = {};
  if (body.length) {
    try { json = JSON.parse(body.toString()); } catch { /* not JSON: fine */ }
  }
  if (harmless(req, res, path, json)) return "harmless";
  if (req.method === "POST") {
    if (/\/responses$/.test(path)) {
      openaiResponses(req, res, json);
      return "openai";
    }
    if (/\/v1\/messages$/.test(path)) {
      anthropicMessages(req, res, json);
      return "anthropic";
    }
    if (/:(stream)?[gG]enerateContent$/.test(path)) {
      geminiContent(req, res, json, path.endsWith(":streamGenerateContent"));
      return "gemini";
    }
  }
  // Anything else (telemetry, profile look-ups, feature flags): an empty
  // success, which every client seen so far takes as "nothing to do".
  sendJson(res, 200, {});
  return "other";
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    const scenarioBefore = state.scenario;
    let kind;
    try {
      kind = route(req, res, body);
    } catch (err) {
      process.stderr.write(`standin: handler failed: ${err.stack}\n`);
      if (!res.headersSent) sendJson(res, 500, { error: "standin bug" });
    }
    let model = "";
    try { model = JSON.parse(body.toString()).model || ""; } catch { /* no model */ }
    const entry = {
      at: new Date().toISOString(),
      method: req.method,
      url: req.url,
      kind: kind || "model",
      scenario: scenarioBefore,
      model,
      status: res.headersSent ? res.statusCode : null,
      userAgent: req.headers["user-agent"] || "",
    };
    state.seen.push(entry);
    process.stderr.write(
      `standin: ${entry.method} ${entry.url} ${entry.kind}${model ? ` model=${model}` : ""}` +
      ` scenario=${entry.scenario} -> ${entry.status ?? "parked"} ua=${entry.userAgent.slice(0, 60)}\n`,
    );
  });
});

// Keep-alive sockets would otherwise hold shutdown open.
const sockets = new Set();
server.on("connection", (socket) => {
  sockets.add(socket);
  socket.on("close", () => sockets.delete(socket));
});

function shutdown() {
  for (const res of parked) res.destroy();
  for (const socket of sockets) socket.destroy();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
setTimeout(() => {
  process.stderr.write(`standin: --max-seconds ${opts.maxSeconds} reached, exiting\n`);
  shutdown();
}, opts.maxSeconds * 1000).unref();

server.listen(opts.port, "127.0.0.1", () => {
  process.stdout.write(`PORT ${server.address().port}\n`);
});
