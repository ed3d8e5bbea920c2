// The environment and config files that point each real harness CLI at the
// loopback stand-in, inside one throwaway directory. Nothing is written
// outside `root`: HOME, TMPDIR and each CLI's own state directory live there.
//
// Also usable from the shell (e.g. from a Rust test that wants the same
// set-up): `node harness-env.mjs <cli> <root> <base_url>` writes the files and
// prints one KEY=VALUE line per variable to add to the harness's environment.
// <cli> is codex, claude, claude-oauth, claude-root, pi or gemini.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

// Model names the stand-in answers for; the captures use the same ones.
export const MODELS = {
  codex: "gpt-mock",
  pi: "claude-mock",
  gemini: "gemini-mock",
};
export const PI_PROVIDER = "mockanth";

function write(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

// The variables every CLI gets: a private HOME and TMPDIR, a UTF-8 locale,
// and the caller's PATH (node must be on it). Nothing else is inherited, so a
// developer's own keys and settings cannot leak into a run.
function baseEnv(root) {
  const env = {
    PATH: process.env.PATH,
    HOME: path.join(root, "home"),
    TMPDIR: path.join(root, "tmp"),
    LANG: "C.UTF-8",
  };
  if (process.env.TZ) env.TZ = process.env.TZ;
  fs.mkdirSync(env.HOME, { recursive: true });
  fs.mkdirSync(env.TMPDIR, { recursive: true });
  return env;
}

// Codex ignores OPENAI_BASE_URL; a model provider in $CODEX_HOME/config.toml
// is what moves it. The key is read from the variable named by env_key.
function codex(root, baseUrl) {
  const env = baseEnv(root);
  env.CODEX_HOME = path.join(env.HOME, ".codex");
  env.STANDIN_API_KEY = "dummy";
  write(path.join(env.CODEX_HOME, "config.toml"), [
    `model = "${MODELS.codex}"`,
    `model_provider = "standin"`,
    // No release check against the GitHub/Homebrew APIs at start-up.
    `check_for_update_on_startup = false`,
    ``,
    `[model_providers.standin]`,
    `name = "Stand-in"`,
    `base_url = "${baseUrl}/v1"`,
    `env_key = "STANDIN_API_KEY"`,
    `wire_api = "responses"`,
    ``,
    // Without this, codex 0.171 clones github.com/openai/plugins.git and
    // asks api.github.com for the curated plugin list on every start.
    `[features]`,
    `plugins = false`,
    ``,
    `[analytics]`,
    `enabled = false`,
    ``,
    `[feedback]`,
    `enabled = false`,
    ``,
  ].join("\n"));
  return env;
}

// Claude Code follows ANTHROPIC_BASE_URL. As root it refuses
// bypassPermissions unless IS_SANDBOX=1 (variant "root" leaves it out to
// show the refusal). "oauth" is a subscription user, whose 429 carries a
// rate_limit_event and the "You've hit your 5-hour limit" text.
function claude(root, baseUrl, variant) {
  const env = baseEnv(root);
  env.CLAUDE_CONFIG_DIR = path.join(env.HOME, ".claude");
  env.ANTHROPIC_BASE_URL = baseUrl;
  if (variant === "oauth") env.CLAUDE_CODE_OAUTH_TOKEN = "dummy";
  else env.ANTHROPIC_API_KEY = "dummy";
  if (variant !== "root") env.IS_SANDBOX = "1";
  // Statsig/Datadog/Sentry, the auto-updater, feedback surveys: all off.
  Object.assign(env, {
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    DISABLE_TELEMETRY: "1",
    DISABLE_ERROR_REPORTING: "1",
    DISABLE_AUTOUPDATER: "1",
    CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY: "1",
  });
  return env;
}

// Pi reads custom providers from ~/.pi/agent/models.json. The prices make
// Pi's cost figures non-zero, like the captures ($3/$15 per Mtok, cache
// read $0.30, cache write $3.75).
function pi(root, baseUrl) {
  const env = baseEnv(root);
  // PI_OFFLINE skips the start-up version check and package updates.
  env.PI_OFFLINE = "1";
  env.PI_SKIP_VERSION_CHECK = "1";
  env.PI_TELEMETRY = "0";
  const models = {
    providers: {
      [PI_PROVIDER]: {
        baseUrl,
        api: "anthropic-messages",
        apiKey: "dummy",
        models: [{
          id: MODELS.pi,
          name: "Claude (stand-in)",
          reasoning: false,
          input: ["text"],
          cost: { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
          contextWindow: 200000,
          maxTokens: 8192,
        }],
      },
    },
  };
  write(path.join(env.HOME, ".pi", "agent", "models.json"), JSON.stringify(models, null, 2) + "\n");
  return env;
}

// Gemini CLI follows GOOGLE_GEMINI_BASE_URL once the auth type is the API
// key; without the settings file it exits 41 (no auth chosen).
function gemini(root, baseUrl) {
  const env = baseEnv(root);
  env.GOOGLE_GEMINI_BASE_URL = baseUrl;
  env.GEMINI_API_KEY = "dummy";
  // Clearcut usage statistics, OpenTelemetry and the npm update check: off.
  env.GEMINI_TELEMETRY_ENABLED = "false";
  const settings = {
    security: { auth: { selectedType: "gemini-api-key" } },
    general: { enableAutoUpdate: false, enableAutoUpdateNotification: false },
    privacy: { usageStatisticsEnabled: false },
    telemetry: { enabled: false },
    ide: { enabled: false },
  };
  write(path.join(env.HOME, ".gemini", "settings.json"), JSON.stringify(settings, null, 2) + "\n");
  return env;
}

// Writes the config files for `cli` under `root` and returns its env.
export function prepare(cli, root, baseUrl) {
  switch (cli) {
    case "codex": return codex(root, baseUrl);
    case "claude": return claude(root, baseUrl, "api-key");
    case "claude-oauth": return claude(root, baseUrl, "oauth");
    case "claude-root": return claude(root, baseUrl, "root");
    case "pi": return pi(root, baseUrl);
    case "gemini": return gemini(root, baseUrl);
    default: throw new Error(`unknown cli ${cli}`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [cli, root, baseUrl] = process.argv.slice(2);
  if (!cli || !root || !baseUrl) {
    process.stderr.write("usage: node harness-env.mjs <cli> <root> <base_url>\n");
    process.exit(2);
  }
  const env = prepare(cli, path.resolve(root), baseUrl);
  for (const [key, value] of Object.entries(env)) process.stdout.write(`${key}=${value}\n`);
}
