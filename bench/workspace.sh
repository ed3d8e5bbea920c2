#!/usr/bin/env bash
# Benchmarks the workspace commands: `status` on a fresh workspace and with
# 10,000 queued tasks, `queue ls` with 10,000 tasks, and peak memory.
#
# Usage: bench/workspace.sh [runs]   (default 30 runs per command)
#
# Builds the release binary, creates workspaces in a temporary directory,
# writes 10,000 valid task files directly into tasks/queue/, times each
# command (whole process, wall clock) and prints a markdown table of
# medians and peak RSS (from /usr/bin/time -v when present, else from the
# rusage of the timed children).
set -euo pipefail

RUNS="${1:-30}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
cargo build --release --quiet
BIN="$ROOT/target/release/millrace"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

"$BIN" --workspace "$WORK/fresh" init >/dev/null
"$BIN" --workspace "$WORK/big" init >/dev/null

# 10,000 valid tasks, written straight into the queue as an agent would.
python3 - "$WORK/big/millrace-agents/tasks/queue" <<'PY'
import sys, os
queue = sys.argv[1]
for i in range(10_000):
    tid = f"task-{i:05d}"
    deps = f"\nDepends-On:\n- task-{i-1:05d}\n" if i % 10 == 9 else ""
    text = (f"# Task {i}\n\nTask-ID: {tid}\nCreated-At: 2026-01-01T00:{(i // 60) % 60:02d}:{i % 60:02d}Z\n"
            f"Created-By: bench\n\nTarget-Paths:\n- src/lib.rs\n\nAcceptance:\n- works\n\n"
            f"Required-Checks:\n- cargo test\n\nReferences:\n- none\n\nRisk:\n- low\n{deps}")
    with open(os.path.join(queue, tid + ".md"), "w") as f:
        f.write(text)
PY

# The first `queue ls --all` builds the index (every file parsed once).
COLD_START=$(date +%s%N)
"$BIN" --workspace "$WORK/big" queue ls --all >/dev/null
COLD_MS=$(( ($(date +%s%N) - COLD_START) / 1000000 ))

python3 - "$BIN" "$WORK" "$RUNS" "$COLD_MS" <<'PY'
import os, resource, shutil, statistics, subprocess, sys, time

binary, work, runs, cold_ms = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
gnu_time = shutil.which("time") if os.path.exists("/usr/bin/time") else None

cases = [
    ("status, fresh workspace", "fresh", ["status"], "<= 2 ms"),
    ("status --json, fresh workspace", "fresh", ["status", "--json"], ""),
    ("status, 10,000 queued tasks", "big", ["status"], "<= 20 ms"),
    ("queue ls, 10,000 queued tasks", "big", ["queue", "ls"], "<= 50 ms"),
    ("queue ls --all, 10,000 (index warm)", "big", ["queue", "ls", "--all"], ""),
    ("doctor, fresh workspace", "fresh", ["doctor"], ""),
]

def peak_rss_kb(cmd):
    if gnu_time:
        out = subprocess.run(["/usr/bin/time", "-v"] + cmd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True).stderr
        for line in out.splitlines():
            if "Maximum resident set size" in line:
                return int(line.split(":")[1])
    # Fallback: a fresh child measured through rusage.
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.execv(cmd[0], cmd)
    _, _, usage = os.wait4(pid, 0)
    return usage.ru_maxrss

print(f"runs per command: {runs}; first `queue ls --all` on 10,000 tasks (index build): {cold_ms} ms\n")
print("| command | median | p90 | peak RSS | bar |")
print("| --- | ---: | ---: | ---: | --- |")
for name, ws, args, bar in cases:
    cmd = [binary, "--workspace", os.path.join(work, ws)] + args
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    median = statistics.median(samples)
    p90 = samples[int(len(samples) * 0.9) - 1]
    rss = peak_rss_kb(cmd)
    print(f"| `{' '.join(args)}` ({name}) | {median:.2f} ms | {p90:.2f} ms | {rss / 1024:.1f} MB | {bar} |")
PY
