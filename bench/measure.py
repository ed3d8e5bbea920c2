#!/usr/bin/env python3
"""Whole-process timing and peak memory for the benchmark table.

Used as a library by bench/table.py, or alone:

    measure.py RUNS CWD -- COMMAND...   prints `median_ms peak_rss_kb`

Timing: a monotonic clock around a posix_spawn'ed child (vfork semantics:
cheap, and nothing of this Python process is copied), stdout and stderr
sent to /dev/null. Peak RSS of a command that exits comes from GNU time
(`/usr/bin/time -f %M`): the rusage this process could read itself would
count the pages of the Python parent that the child inherited before its
exec, and GNU time's own small fork does not inflate the figure that way.
A daemon that is stopped from outside is read from /proc (VmHWM) just
before it is stopped.
"""
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import calendar

DEVNULL = os.open(os.devnull, os.O_WRONLY)


class Failed(Exception):
    """A measured command did not behave (exit status, timeout)."""


def spawn(argv, cwd, group=False):
    """Starts argv in cwd with stdout and stderr to /dev/null; returns the pid.
    `group` puts the child in a process group of its own (its pid), so it
    and the harness processes it starts can be stopped together."""
    actions = [(os.POSIX_SPAWN_DUP2, DEVNULL, 1), (os.POSIX_SPAWN_DUP2, DEVNULL, 2)]
    old = os.getcwd()
    os.chdir(cwd)
    try:
        extra = {"setpgroup": 0} if group else {}
        return os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions, **extra)
    finally:
        os.chdir(old)


def check_exit(status, argv):
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise Failed(f"exit {code}: {' '.join(argv)}")


def time_to_exit(argv, cwd, cpu=False):
    """Milliseconds from spawn to exit; with `cpu`, also the CPU time (user
    + system) the process and the children it waited for used."""
    start = time.perf_counter()
    pid = spawn(argv, cwd)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    check_exit(status, argv)
    if cpu:
        return elapsed * 1000.0, (usage.ru_utime + usage.ru_stime) * 1000.0
    return elapsed * 1000.0


def vm_hwm_kb(pid):
    """Peak resident set of a live process, in KB (0 if unreadable)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def stop_group(pid, grace=10.0):
    """Stops a child started with group=True and its process group: SIGTERM,
    then SIGKILL after `grace` seconds. Returns the child's wait status."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.005)
    else:
        os.killpg(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    try:  # harness processes left in the group, if any
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return status


def time_until(argv, cwd, path, timeout=120.0):
    """Runs a daemon until `path` exists, then stops it. Returns
    (milliseconds from spawn until `path` was seen, peak RSS in KB then).
    Polls every 0.2 ms, so the figure is late by at most that."""
    start = time.perf_counter()
    pid = spawn(argv, cwd, group=True)
    try:
        while not os.path.exists(path):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                raise Failed(f"exited ({os.waitstatus_to_exitcode(status)}) before {path} appeared: "
                             f"{' '.join(argv)}")
            if time.perf_counter() - start > timeout:
                raise Failed(f"{path} did not appear within {timeout:.0f} s: {' '.join(argv)}")
            time.sleep(0.0002)
        elapsed = time.perf_counter() - start
        hwm = vm_hwm_kb(pid)
    finally:
        if not os.waitpid(pid, os.WNOHANG)[0]:
            stop_group(pid)
    return elapsed * 1000.0, hwm


def run_until_events(argv, cwd, log, event, count, timeout=300.0):
    """Runs a daemon until its event log holds `count` lines of `event`,
    then stops it. Returns the peak RSS in KB at that moment."""
    start = time.monotonic()
    pid = spawn(argv, cwd, group=True)
    needle = f'"{event}"'
    try:
        while True:
            try:
                with open(log) as f:
                    seen = sum(needle in line for line in f)
            except FileNotFoundError:
                seen = 0
            if seen >= count:
                return vm_hwm_kb(pid)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                raise Failed(f"exited ({os.waitstatus_to_exitcode(status)}) after {seen} of {count} "
                             f"`{event}` events: {' '.join(argv)}")
            if time.monotonic() - start > timeout:
                raise Failed(f"only {seen} of {count} `{event}` events within {timeout:.0f} s")
            time.sleep(0.05)
    finally:
        if not os.waitpid(pid, os.WNOHANG)[0]:
            stop_group(pid)


def syncs_between(strace_log, start_ns, end_ns):
    """Flush calls in an `strace -f -ttt` log made between two instants."""
    count = 0
    with open(strace_log) as f:
        for line in f:
            parts = line.split(None, 2)
            if len(parts) < 3 or "sync" not in parts[2] or "resumed>" in parts[2]:
                continue
            at = int(float(parts[1]) * 1e9)
            if start_ns <= at < end_ns:
                count += 1
    return count


_STAMP = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def stamp_ns(text):
    """RFC 3339 timestamp to integer nanoseconds since the epoch (any number
    of fraction digits, `Z` or a numeric offset)."""
    m = _STAMP.match(text)
    if not m:
        raise ValueError(f"not an RFC 3339 timestamp: {text}")
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    frac = (m.group(7) or "0")[:9].ljust(9, "0")
    ns = calendar.timegm((y, mo, d, h, mi, s)) * 10**9 + int(frac)
    zone = m.group(8)
    if zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        ns -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60) * 10**9
    return ns


def peak_rss_kb(argv, cwd, runs=3, setup=None):
    """Largest peak RSS over `runs` runs under GNU time, or 0 without it."""
    if not os.path.exists("/usr/bin/time"):
        return 0
    peaks = []
    for _ in range(runs):
        if setup:
            setup()
        out = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], cwd=cwd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        peaks.append(int(out.stderr.strip().splitlines()[-1]))
    return max(peaks)


def median_ms(argv, cwd, runs, setup=None):
    """Median whole-process time and median CPU time over `runs` runs;
    `setup` (untimed) runs before each. Without a setup one untimed run
    warms the page cache."""
    if setup is None:
        time_to_exit(argv, cwd)
    times, cpus = [], []
    for _ in range(runs):
        if setup:
            setup()
        wall, cpu = time_to_exit(argv, cwd, cpu=True)
        times.append(wall)
        cpus.append(cpu)
    return statistics.median(times), statistics.median(cpus)


STRACE = "/usr/bin/strace"
SYNCS = "fsync,fdatasync,sync_file_range,sync,syncfs,msync"


def sync_calls(argv, cwd, setup=None):
    """How many flush-to-disk system calls one run makes (all threads and
    children), counted under strace; None without strace."""
    if not os.path.exists(STRACE):
        return None
    if setup:
        setup()
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
        subprocess.run([STRACE, "-f", "-qq", "-o", out.name, "-e", f"trace={SYNCS}", *argv], cwd=cwd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        return sum(1 for line in out if "sync" in line and "resumed>" not in line)


def sync_latency_ms(directory, count=100):
    """Median time of one fsync after a small append, in `directory`: what
    each flush the runtime asks for costs on this disk right now."""
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        times = []
        for _ in range(count):
            os.write(fd, b"x" * 128)
            start = time.perf_counter()
            os.fsync(fd)
            times.append((time.perf_counter() - start) * 1000.0)
    finally:
        os.close(fd)
        os.unlink(path)
    return statistics.median(times)


def main():
    runs = int(sys.argv[1])
    cwd = sys.argv[2]
    argv = sys.argv[sys.argv.index("--") + 1:]
    print(f"{median_ms(argv, cwd, runs)[0]:.2f} {peak_rss_kb(argv, cwd)}")


if __name__ == "__main__":
    main()
