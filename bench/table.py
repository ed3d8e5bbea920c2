#!/usr/bin/env python3
"""Runs every benchmark row on each implementation given and prints the
markdown tables of docs/performance.md (which says what each row measures).

    table.py --ours BIN [--port BIN] [--python BIN]

Environment: RUNS (timed runs per row for this build, default 30),
PEER_RUNS (for the peers, default 10), STAGE_RUNS (daemon runs behind each
stage-to-stage row, default 3), STAGE_STARTS (stage starts observed per
daemon run, default 10), BENCH_DIR (where the workspaces go, default the
system temporary directory).
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import measure  # noqa: E402
import scale  # noqa: E402

QUEUED = 10_000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAKE = os.path.join(ROOT, "tests", "fake", "codex-instant")
EVENTS = os.path.join("millrace-agents", "logs", "runtime_events.jsonl")

# Valid for all three implementations (the reference refuses unknown keys).
CONFIG = """[runtime]
default_mode = "{mode}"
run_style = "daemon"
idle_sleep_seconds = 0.02

[runners.codex]
permission_default = "maximum"
command = "{fake}"
"""

# This project only: every stage answered in process by the scripted
# runner, each with its first declared outcome.
SCRIPTED_MODE = "mode bench extends default_codex {\n    runner * = scripted\n}\n"
SCRIPTED_CONFIG = '\n[runners.scripted]\nscript = "bench-script.toml"\n'


def env_int(name, default):
    return int(os.environ.get(name, default))


def log(text):
    print(text, file=sys.stderr, flush=True)


class Impl:
    def __init__(self, key, label, binary, runs, ours=False):
        self.key, self.label, self.binary, self.runs, self.ours = key, label, binary, runs, ours

    def cmd(self, *args, ws=None):
        return [self.binary, *args] + (["--workspace", ws] if ws else [])

    def init(self, ws, scripted=False):
        """An initialized workspace with the bench config."""
        os.makedirs(ws, exist_ok=True)
        measure.time_to_exit(self.cmd("init", ws=ws), ws)
        agents = os.path.join(ws, "millrace-agents")
        text = CONFIG.format(mode="bench" if scripted else "default_codex", fake=FAKE)
        if scripted:
            text += SCRIPTED_CONFIG
            write(os.path.join(agents, "loops", "bench.mill"), SCRIPTED_MODE)
            write(os.path.join(agents, "bench-script.toml"), "[stages]\n")
        write(os.path.join(agents, "millrace.toml"), text)

    def tick(self, ws):
        """One idle tick: compiles and stores the plan, as first use does."""
        measure.time_to_exit(self.cmd("run", "daemon", "--max-ticks", "1", ws=ws), ws)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def task_text(i):
    """A valid task for all three implementations. Every tenth depends on
    the one before it, so claiming has dependencies to check."""
    tid = f"task-{i:05d}"
    deps = f"\nDepends-On:\n- task-{i - 1:05d}\n" if i % 10 == 9 else ""
    return (f"# Task {i}\n\nTask-ID: {tid}\nTitle: Task {i}\n"
            f"Created-At: 2026-01-{1 + i // 86400:02d}T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z\n"
            f"Created-By: bench\n\nTarget-Paths:\n- src/lib.rs\n\nAcceptance:\n- works\n\n"
            f"Required-Checks:\n- cargo test\n\nReferences:\n- none\n\nRisk:\n- low\n{deps}")


def queue_tasks(ws, count):
    queue = os.path.join(ws, "millrace-agents", "tasks", "queue")
    for i in range(count):
        write(os.path.join(queue, f"task-{i:05d}.md"), task_text(i))


def restorer(template, ws):
    def restore():
        shutil.rmtree(ws, ignore_errors=True)
        shutil.copytree(template, ws, symlinks=True)
    return restore


class Cell:
    """One implementation's figures for one row: `value` in ms (MB for the
    memory row), peak RSS in KB, CPU ms and flush calls where known; or
    `na`, why there is no figure."""

    def __init__(self, value=None, rss_kb=None, na=None, cpu_ms=None, syncs=None, note=""):
        self.value, self.rss_kb, self.na = value, rss_kb, na
        self.cpu_ms, self.syncs, self.note = cpu_ms, syncs, note


def timed(impl, argv, cwd, setup=None):
    wall, cpu = measure.median_ms(argv, cwd, impl.runs, setup)
    syncs = measure.sync_calls(argv, cwd, setup) if impl.ours else None
    return Cell(wall, measure.peak_rss_kb(argv, cwd, setup=setup), cpu_ms=cpu, syncs=syncs)


def fake_ms(work):
    """The instant fake's own time per stage: the same script, spawned and
    waited for directly, with an argv and prompt of the usual size."""
    markers = "".join(f"- ### {m} (success)\n" for m in ("BUILDER_COMPLETE", "BLOCKED"))
    prompt = "Stage Request Context:\n" + "Key: value\n" * 200 + "Legal Terminal Markers:\n" + markers
    last = os.path.join(work, "fake-last.txt")
    argv = [FAKE, "exec", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
            "--cd", work, "--json", "--output-last-message", last, prompt]
    return measure.median_ms(argv, work, 30)[0]


def stage_starts(ws):
    """Times (ns) of the execution-plane `stage_started` events, in order."""
    stamps = []
    with open(os.path.join(ws, EVENTS)) as f:
        for line in f:
            event = json.loads(line)
            if event.get("event_type") == "stage_started" and event["data"].get("plane") == "execution":
                stamps.append(measure.stamp_ns(event["occurred_at"]))
    return stamps


def stage_row(impl, template, ws, argv, own_ms=0.0):
    """Median gap between consecutive execution-stage starts over
    STAGE_RUNS daemon runs from copies of `template`, minus `own_ms` (the
    harness's own time per stage). For this build also the flush calls per
    stage, from one more run under strace."""
    gaps, peak = [], 0
    starts = env_int("STAGE_STARTS", 10)
    for _ in range(env_int("STAGE_RUNS", 3)):
        restorer(template, ws)()
        peak = max(peak, measure.run_until_events(argv, ws, os.path.join(ws, EVENTS), "stage_started", starts))
        stamps = stage_starts(ws)
        gaps += [(b - a) / 1e6 for a, b in zip(stamps, stamps[1:])]
    cell = Cell(statistics.median(gaps) - own_ms, peak)
    cell.note = f"median gap {statistics.median(gaps):.1f} ms over {len(gaps)} gaps"
    if own_ms:
        cell.note += f", minus {own_ms:.1f} ms for the fake alone"
    if impl.ours and os.path.exists(measure.STRACE):
        restorer(template, ws)()
        with tempfile.NamedTemporaryFile("r", suffix=".strace") as out:
            traced = [measure.STRACE, "-f", "-qq", "-ttt", "-o", out.name, "-e", f"trace={measure.SYNCS}", *argv]
            measure.run_until_events(traced, ws, os.path.join(ws, EVENTS), "stage_started", starts)
            stamps = stage_starts(ws)
            cell.syncs = measure.syncs_between(out.name, stamps[0], stamps[-1]) / (len(stamps) - 1)
    return cell


def run_impl(impl, work):
    """Every row for one implementation: {row key: Cell}."""
    cells = {}
    here = os.path.join(work, impl.key)
    os.makedirs(here)

    log(f"[{impl.label}] --version")
    fresh = os.path.join(here, "fresh")
    os.makedirs(fresh)
    cells["version"] = timed(impl, impl.cmd("--version"), fresh)

    log(f"[{impl.label}] compile")
    impl.init(fresh)
    if impl.ours:
        empty = os.path.join(here, "empty")
        os.makedirs(empty)
        cells["compile"] = timed(impl, impl.cmd("compile", "validate", "--mode", "learning_codex"), empty)
    else:  # the peers compile only inside an initialized workspace
        cells["compile"] = timed(impl, impl.cmd("compile", "validate", "--mode", "learning_codex", ws=fresh),
                                 fresh)

    log(f"[{impl.label}] status, fresh")
    cells["status_fresh"] = timed(impl, impl.cmd("status", ws=fresh), fresh)
    log(f"[{impl.label}] idle tick")
    cells["tick"] = timed(impl, impl.cmd("run", "daemon", "--max-ticks", "1", ws=fresh), fresh)

    log(f"[{impl.label}] {QUEUED} queued: status, queue ls")
    big = os.path.join(here, "big")
    impl.init(big)
    impl.tick(big)
    queue_tasks(big, QUEUED)
    cells["status_big"] = timed(impl, impl.cmd("status", ws=big), big)
    cells["queue_ls"] = timed(impl, impl.cmd("queue", "ls", ws=big), big)

    log(f"[{impl.label}] stage to stage, {QUEUED} queued")
    template = os.path.join(here, "big-template")
    shutil.copytree(big, template, symlinks=True)
    cells["stage"] = stage_row(impl, template, big, impl.cmd("run", "daemon", ws=big), fake_ms(here))

    if impl.ours:
        log(f"[{impl.label}] stage to stage, scripted, {QUEUED} queued")
        scripted = os.path.join(here, "scripted")
        impl.init(scripted, scripted=True)
        impl.tick(scripted)
        queue_tasks(scripted, QUEUED)
        template = os.path.join(here, "scripted-template")
        shutil.copytree(scripted, template, symlinks=True)
        cells["stage_scripted"] = stage_row(impl, template, scripted, impl.cmd("run", "daemon", ws=scripted))
    else:
        cells["stage_scripted"] = Cell(na="no in-process harness")

    log(f"[{impl.label}] one task builder, checker, updater")
    one = os.path.join(here, "one")
    impl.init(one)
    impl.tick(one)
    queue_tasks(one, 1)
    template = os.path.join(here, "one-template")
    shutil.copytree(one, template, symlinks=True)
    restore = restorer(template, one)
    done = os.path.join(one, "millrace-agents", "tasks", "done", "task-00000.md")
    if impl.ours:
        cells["one_task"] = timed(impl, impl.cmd("run", "daemon", "--exit-when-idle", ws=one), one, restore)
        if not os.path.exists(done):
            raise measure.Failed("run daemon --exit-when-idle ended without finishing the task")
    else:  # no way to exit when idle: stopped once the task is done
        samples, peaks = [], []
        for _ in range(impl.runs):
            restore()
            ms, hwm = measure.time_until(impl.cmd("run", "daemon", ws=one), one, done)
            samples.append(ms)
            peaks.append(hwm)
        cells["one_task"] = Cell(statistics.median(samples), max(peaks))

    if impl.ours:
        log(f"[{impl.label}] demo")
        target = os.path.join(here, "demo")
        setup = lambda: shutil.rmtree(target, ignore_errors=True)  # noqa: E731
        cells["demo"] = timed(impl, impl.cmd("demo", "--quiet", ws=target), here, setup)
    else:
        cells["demo"] = Cell(na="no demo command")

    cells.update(scale.run(impl, here, sys.modules[__name__]))

    cli = ["compile", "status_fresh", "status_big", "queue_ls", "tick"]
    worst = max(cli, key=lambda k: cells[k].rss_kb or 0)
    cells["memory"] = Cell((cells[worst].rss_kb or 0) / 1024, note=worst)
    return cells


ROWS = [
    ("version", "`--version` (start and exit: the floor of every command)", None),
    ("compile", "`compile validate --mode learning_codex`", 3),
    ("status_fresh", "`status`, fresh workspace", 2),
    ("status_big", f"`status`, {QUEUED:,} queued tasks", 20),
        ("queue_ls", f"`queue ls`, {QUEUED:,} queued tasks", 50),
    ("tick", "one idle daemon tick (`run daemon --max-ticks 1`)", 5),
    ("stage", f"stage-to-stage runtime overhead, {QUEUED:,} queued (instant fake codex)", 5),
    ("stage_scripted", f"stage-to-stage, {QUEUED:,} queued (scripted harness, in process)", 5),
    ("one_task", "one task builder → checker → updater, instant fake codex", 50),
        ("demo", "`demo --quiet` (whole campaign, fresh directory)", 2000),
    *[(key, name, None) for key, name in scale.ROWS],
    ("memory", "peak memory of a CLI command (largest of the first five rows)", 8),
]
NAMES = {key: name for key, name, _ in ROWS}


def fmt_ms(value):
    return f"{value:.1f} ms" if abs(value) >= 10 else f"{value:.2f} ms"


def fmt_value(key, cell):
    if cell.na:
        return "n/a"
    if key == "memory":
        return f"{cell.value:.1f} MB"
    return fmt_ms(cell.value)


def fmt_rss(cell):
    if cell.na:
        return "n/a"
    return "" if cell.rss_kb is None else f"{cell.rss_kb / 1024:.1f} MB"


def machine():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    distro = platform.system()
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    distro = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return (f"{os.cpu_count()} CPUs ({model}), {mem_kb / 1024 / 1024:.1f} GiB RAM, "
            f"{distro}, Linux {platform.release()}")


def true_ms():
    return measure.median_ms(["/bin/true"], tempfile.gettempdir(), 30)[0]


def print_tables(impls, results, fsync_ms):
    ours, peers = impls[0], impls[1:]
    head = ["work", "bar", ours.label, "peak RSS", "bar met"]
    for p in peers:
        head += [p.label, "peak RSS", "× ours"]
    print("| " + " | ".join(head) + " |")
    print("| --- | ---: | ---: | ---: | :---: |" + " ---: | ---: | ---: |" * len(peers))
    for key, name, bar in ROWS:
        mine = results[ours.key][key]
        unit = "MB" if key == "memory" else "ms"
        met = "—" if bar is None else ("yes" if mine.value <= bar else "**no**")
        row = [name, f"≤ {bar} {unit}" if bar else "—", fmt_value(key, mine),
               "" if key == "memory" else fmt_rss(mine), met]
        for p in peers:
            theirs = results[p.key][key]
            row += [fmt_value(key, theirs), "" if key == "memory" else fmt_rss(theirs)]
            ok = not theirs.na and not mine.na and mine.value > 0
            row.append(f"{theirs.value / mine.value:.1f}" if ok else "—")
        print("| " + " | ".join(row) + " |")

    print()
    print(f"Where the time of {ours.label} goes: median CPU time (user + system) of the same runs, and the")
    print("flush calls (fsync, fdatasync) one run makes, each of which waits for the disk:")
    print()
    print("| work | wall | CPU | flushes |")
    print("| --- | ---: | ---: | ---: |")
    for key, name, _ in ROWS:
        cell = results[ours.key][key]
        if key == "memory" or cell.na:
            continue
        cpu = "" if cell.cpu_ms is None else fmt_ms(cell.cpu_ms)
        syncs = "" if cell.syncs is None else (f"{cell.syncs:.1f} per stage" if key.startswith("stage")
                                               else str(cell.syncs))
        print(f"| {name} | {fmt_ms(cell.value)} | {cpu} | {syncs} |")

    print()
    print(f"Machine: {machine()}.")
    print(f"A process that does nothing (`/bin/true`), spawned and waited for: median {true_ms():.2f} ms.")
    print(f"One fsync of a small append on the benchmark's filesystem: median {fsync_ms[0]:.2f} ms before "
          f"the run, {fsync_ms[1]:.2f} ms after.")
    runs = f"Timed runs per row: {ours.runs} for {ours.label}"
    if peers:
        runs += f", {peers[0].runs} for each peer"
    print(runs + f"; stage rows: {env_int('STAGE_RUNS', 3)} daemon runs × {env_int('STAGE_STARTS', 10)} "
          "stage starts.")
    for impl in impls:
        for key in ("stage", "stage_scripted", "memory"):
            cell = results[impl.key][key]
            if cell.note and not cell.na:
                what = "largest RSS in row" if key == "memory" else NAMES[key].split(",")[0] + ":"
                text = NAMES.get(cell.note, cell.note) if key == "memory" else cell.note
                print(f"- {impl.label}, {what} {text}.")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", required=True)
    ap.add_argument("--port")
    ap.add_argument("--python")
    args = ap.parse_args()
    impls = [Impl("ours", "this build", args.ours, env_int("RUNS", 30), ours=True)]
    if args.port:
        impls.append(Impl("port", "Rust port 0.5.2", args.port, env_int("PEER_RUNS", 10)))
    if args.python:
        impls.append(Impl("python", "Python 0.16.2", args.python, env_int("PEER_RUNS", 10)))
    work = tempfile.mkdtemp(prefix="millrace-bench-", dir=os.environ.get("BENCH_DIR") or None)
    try:
        before = measure.sync_latency_ms(work)
        results = {impl.key: run_impl(impl, work) for impl in impls}
        after = measure.sync_latency_ms(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_tables(impls, results, (before, after))


if __name__ == "__main__":
    main()
