#!/usr/bin/env bash
# The contract suite in one command: installs the pinned CLIs (a no-op when
# the cache is current), then runs every CLI x scenario against the loopback
# stand-in and prints the comparison table. Arguments go to run-scenarios.mjs.
#
#   MILLRACE_HARNESS_DIR       the install cache (default <repo>/target/real-harness)
#   MILLRACE_HARNESS_CAPTURES  the reference captures (default <repo>/tests/fixtures/captures)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
installed="$("$here/install.sh")"
echo "$installed"
bin="$(awk '$1 == "bin" { print $2 }' <<<"$installed")"
exec node "$here/run-scenarios.mjs" --bin "$bin" "$@"
