"""The scale rows of bench/run: how the cost of this build grows with the
queue (100,000 tasks), the run history (1,000 runs) and the loop (5,000
nodes). The peers take the queue rows too; the rest need commands or a
language only this build has."""
import os
import shutil

HUGE = 100_000
HISTORY = 1_000
NODES = 5_000

ROWS = [
    ("status_huge", f"`status`, {HUGE:,} queued tasks"),
    ("queue_ls_huge", f"`queue ls`, {HUGE:,} queued tasks"),
    ("run_once_huge", f"`run once` (one scripted stage, a claim every third), {HUGE:,} queued"),
    ("runs_ls", f"`runs ls`, {HISTORY:,} runs recorded"),
    ("compile_nodes", f"`compile validate` of a generated {NODES:,}-node loop"),
]


def big_loop(nodes):
    """A mode whose execution loop is a chain of `nodes` stages."""
    out = []
    for i in range(nodes):
        out.append(f"stage s{i} {{\n    plane      execution\n"
                   f"    entrypoint \"entrypoints/execution/builder.md\"\n"
                   f"    outcomes {{\n        DONE:    success\n        BLOCKED: blocked | recoverable_failure\n"
                   f"    }}\n}}\n\n")
    out.append("loop execution.big {\n    plane execution\n    entry task -> s0\n\n")
    for i in range(nodes):
        after = f"s{i + 1}" if i + 1 < nodes else "finish done"
        out.append(f"    s{i} {{\n        DONE    -> {after}\n        BLOCKED -> finish blocked\n    }}\n")
    out.append("\n    terminal done: success writes UPDATE_COMPLETE emits stage_result\n"
               "    terminal blocked: blocked writes BLOCKED emits stage_result\n}\n\n"
               "mode big {\n    execution = execution.big\n    planning  = planning.standard\n"
               "    runner *  = codex_cli\n}\n")
    return "".join(out)


def fake_history(ws, count):
    """`count` more run directories, each a copy of the first real run
    with its id (in names and contents) replaced by a new one."""
    runs = os.path.join(ws, "millrace-agents", "runs")
    first = sorted(n for n in os.listdir(runs) if n.startswith("run-"))[0]
    stem = first[len("run-"):]
    src = os.path.join(runs, first)
    for i in range(count):
        new = f"20260101T{i // 3600 % 24:02d}{i // 60 % 60:02d}{i % 60:02d}000-{i:08x}"
        for root, _, files in os.walk(src):
            rel = os.path.relpath(root, src)
            dst = os.path.join(runs, "run-" + new, rel)
            os.makedirs(dst, exist_ok=True)
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    data = f.read().replace(stem.encode(), new.encode())
                with open(os.path.join(dst, name.replace(stem, new)), "wb") as f:
                    f.write(data)


def run(impl, here, b):
    """Every scale row for one implementation; `b` is bench/table.py (its
    Cell, timed, queue_tasks, write, log)."""
    cells = {}
    b.log(f"[{impl.label}] {HUGE} queued: status, queue ls")
    huge = os.path.join(here, "huge")
    impl.init(huge, scripted=impl.ours)
    impl.tick(huge)
    b.queue_tasks(huge, HUGE)
    cells["status_huge"] = b.timed(impl, impl.cmd("status", ws=huge), huge)
    cells["queue_ls_huge"] = b.timed(impl, impl.cmd("queue", "ls", ws=huge), huge)
    if not impl.ours:
        for key, _ in ROWS[2:]:
            cells[key] = b.Cell(na="not compared")
        shutil.rmtree(huge, ignore_errors=True)
        return cells

    b.log(f"[{impl.label}] {HUGE} queued: run once")
    # The first claim parses the 100,000 documents into the claim index;
    # the row is about the claims after it.
    b.measure.time_to_exit(impl.cmd("run", "once", ws=huge), huge)
    cells["run_once_huge"] = b.timed(impl, impl.cmd("run", "once", ws=huge), huge)

    b.log(f"[{impl.label}] {HISTORY} runs: runs ls")
    fake_history(huge, HISTORY)
    cells["runs_ls"] = b.timed(impl, impl.cmd("runs", "ls", ws=huge), huge)
    shutil.rmtree(huge, ignore_errors=True)

    b.log(f"[{impl.label}] {NODES}-node loop: compile validate")
    nodes = os.path.join(here, "nodes")
    impl.init(nodes)
    b.write(os.path.join(nodes, "millrace-agents", "loops", "big.mill"), big_loop(NODES))
    cells["compile_nodes"] = b.timed(impl, impl.cmd("compile", "validate", "--mode", "big", ws=nodes), nodes)
    return cells
