"""Shared helpers for the fake harnesses (codex, claude, pi, gemini).

Each fake checks its argv the way the real CLI would, then acts out the
scenario named by FAKE_SCENARIO. The failures the real CLIs were seen to
print are replayed byte for byte from tests/fixtures/captures/, so a fake
cannot drift from the real thing. Environment knobs:

  FAKE_SCENARIO  success (default), garbled, two_markers, illegal_marker,
                 quota, budget, truncated, hang, huge, provider_error,
                 empty, grandchild_hang, crash_after_marker, and the
                 harness failures: bad_key, server_error, rate_limit,
                 insufficient_quota, stall (each fake lists its own)
  FAKE_SCENARIO_FILE  a file whose first line names the scenario (wins
                 over FAKE_SCENARIO; lets a test "fix the harness" while
                 the runtime keeps running)
  FAKE_MARKER    answer this marker instead of the first legal one
  FAKE_RESULT    JSON text written to the prompt's "Result Path"
  FAKE_PID_FILE  where grandchild_hang writes the grandchild's pid
  FAKE_HUGE_MB   size of the huge output (default 20)
  FAKE_AS_ROOT   1: behave as when run by root (Claude refuses
                 bypassPermissions unless IS_SANDBOX=1)
  FAKE_COUNT_FILE  a file counting invocations (one line per run)
"""

import os
import re
import subprocess
import sys
import time

MARKER_ITEM = re.compile(r"^- ### ([A-Z][A-Z0-9_]*)")
QUOTA_TEXT = ("You've hit your usage limit. Upgrade to Pro or try again at "
              "Sep 18th, 2026 12:04 AM.")


CAPTURES = os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "fixtures", "captures")


def scenario():
    path = os.environ.get("FAKE_SCENARIO_FILE")
    if path and os.path.exists(path):
        with open(path) as f:
            name = f.readline().strip()
        if name:
            return name
    return os.environ.get("FAKE_SCENARIO", "success")


def count_run():
    path = os.environ.get("FAKE_COUNT_FILE")
    if path:
        with open(path, "a") as f:
            f.write("run\n")


def capture(name, ext):
    path = os.path.join(CAPTURES, name + "." + ext)
    if not os.path.exists(path):
        return b""
    with open(path, "rb") as f:
        return f.read()


def replay(name, code):
    """Prints a capture's stdout and stderr as the real CLI did, exits."""
    sys.stderr.buffer.write(capture(name, "err"))
    sys.stderr.flush()
    out = sys.stdout.buffer
    for line in capture(name, "out").splitlines(keepends=True):
        out.write(line)
        out.flush()
    sys.exit(code)


def die(message, code=2):
    sys.stderr.write("error: " + message + "\n")
    sys.exit(code)


def legal_markers(prompt):
    return [m.group(1) for m in map(MARKER_ITEM.match, prompt.splitlines()) if m]


def context_value(prompt, label):
    prefix = label + ": "
    for line in prompt.splitlines():
        if line.startswith(prefix):
            return line[len(prefix):]
    return None


def chosen_marker(prompt):
    forced = os.environ.get("FAKE_MARKER")
    if forced:
        return forced
    markers = legal_markers(prompt)
    return markers[0] if markers else "BLOCKED"


def final_text(prompt):
    """The final message the scenario calls for (None: no message)."""
    name = scenario()
    marker = chosen_marker(prompt)
    if name in ("success", "huge", "crash_after_marker", "budget"):
        return "Work done.\n### " + marker + "\n"
    if name == "two_markers":
        markers = legal_markers(prompt) + ["BLOCKED"]
        other = next(m for m in markers if m != marker) if marker != "BLOCKED" else "DONE"
        return "### " + marker + "\nthen again\n### " + other + "\n"
    if name == "illegal_marker":
        return "Finished.\n### NOT_A_REAL_MARKER\n"
    if name == "garbled":
        return final_bytes(prompt).decode("utf-8", "replace")
    if name == "empty":
        return ""
    return None


def final_bytes(prompt):
    """The final message as bytes; garbled output is not valid UTF-8."""
    if scenario() == "garbled":
        return b"\xff\xfe\x00{\"partial\": tr\x80\n### \xc3"
    text = final_text(prompt)
    return None if text is None else text.encode()


def write_result(prompt):
    text = os.environ.get("FAKE_RESULT")
    path = context_value(prompt, "Result Path")
    if text and path and path != "none":
        with open(path, "w") as f:
            f.write(text)


def emit(line):
    out = sys.stdout.buffer
    out.write(line if isinstance(line, bytes) else line.encode())
    out.write(b"\n")
    out.flush()


def emit_garbage():
    emit(b"\xff\xfe not json at all \x80\x81")
    emit("{\"type\": \"item.completed\", \"item\": {")
    emit("[1, 2, 3]")
    emit("plain text line \u2028 with a line separator inside")


def huge_output(wrap_prefix, wrap_suffix):
    """Writes one very long JSON line in chunks, never holding it whole."""
    megabytes = int(os.environ.get("FAKE_HUGE_MB", "20"))
    out = sys.stdout.buffer
    out.write(wrap_prefix.encode())
    chunk = b"x" * (1024 * 1024)
    for _ in range(megabytes):
        out.write(chunk)
    out.write(wrap_suffix.encode() + b"\n")
    out.flush()


def spawn_grandchild():
    child = subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pid_file = os.environ.get("FAKE_PID_FILE")
    if pid_file:
        with open(pid_file, "w") as f:
            f.write(str(child.pid))
    return child


def hang():
    while True:
        time.sleep(3600)


def kill_self():
    sys.stdout.flush()
    os.kill(os.getpid(), 9)
