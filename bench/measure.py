#!/usr/bin/env python3
"""Whole-process timing and peak memory for the benchmark table.

Usage: measure.py RUNS CWD -- COMMAND...   prints `median_ms peak_rss_kb`.
Each run is timed with a monotonic clock around a posix_spawn'ed child
(vfork semantics: cheap, and nothing of this Python process is copied).
Peak RSS comes from GNU time (`/usr/bin/time -f %M`), whose own small fork
does not inflate the figure the way a forked Python would.
"""
import subprocess
import os
import statistics
import sys
import time


DEVNULL = os.open(os.devnull, os.O_WRONLY)


def run_once(argv, cwd):
    # posix_spawn (vfork semantics) so the child's peak RSS is the measured
    # program's, not a copy of this Python process, and spawning stays cheap.
    actions = [(os.POSIX_SPAWN_DUP2, DEVNULL, 1), (os.POSIX_SPAWN_DUP2, DEVNULL, 2)]
    start = time.perf_counter()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
    finally:
        os.chdir(old)
    _, status, _ = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"command failed ({status}): {' '.join(argv)}")
    return elapsed * 1000.0


def peak_rss_kb(argv, cwd):
    """Largest peak RSS over three runs under GNU time, or 0 without it."""
    if not os.path.exists("/usr/bin/time"):
        return 0
    peaks = []
    for _ in range(3):
        out = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], cwd=cwd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        peaks.append(int(out.stderr.strip().splitlines()[-1]))
    return max(peaks)


def main():
    runs = int(sys.argv[1])
    cwd = sys.argv[2]
    argv = sys.argv[sys.argv.index("--") + 1:]
    times = [run_once(argv, cwd) for _ in range(runs)]
    print(f"{statistics.median(times):.2f} {peak_rss_kb(argv, cwd)}")


if __name__ == "__main__":
    main()
