"""A new user's first hour: the README's shell examples, run as written, twice.

``python -m tests.first_hour`` starts a suite the way ``make up`` does (``crm
up``: migrations, every service, the gateway under gunicorn, on the embedded
SQLite default) in a throwaway ``CRM_DATA_DIR`` and working directory, on a
RabbitMQ vhost of its own and a free port; then it runs the ```sh blocks of
the README from "Trying it" to "Who may do what" as one bash script, twice in
a row, and stops the suite. It fails on any HTTP answer the README does not
announce: every ``curl`` must get a 2xx, unless the command's last line ends
in a comment starting with the expected status (``# 409, ...``, ``# 422``).

What is changed in the README's text, and only this:
- the ``KEY=crm_...`` placeholder line is dropped: ``KEY`` is the admin key
  that ``crm up`` printed;
- ``127.0.0.1:8000`` is the suite's own address;
- a block that is only a ``crm events watch`` ("a second terminal") runs in
  the background from the start of the walk, and must print the
  ``sales.contract_signed`` event by its end;
- ``curl`` is a shell function that calls curl and checks the status.
Between blocks it waits ``PAUSE`` seconds, as a person reading would (events
reach the other services meanwhile).
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAUSE = 2.0
WALK_TIMEOUT = 300
_EXPECTED = re.compile(r"#\s*(\d{3})\b[^'\"]*$")

PREAMBLE = r"""
set -euo pipefail
EXPECTED=
expect_status() { EXPECTED="${1:-}"; }
curl() {
  local body code wanted
  body=$(mktemp)
  if ! code=$(command curl -sS -o "$body" -w '%{http_code}' "$@"); then
    cat "$body" >&2; rm -f "$body"
    echo "FIRST-HOUR FAILED: curl could not complete: curl $*" >&2
    return 1
  fi
  cat "$body"; echo
  wanted=${EXPECTED:-2xx}
  if [[ ( -n "$EXPECTED" && "$code" != "$EXPECTED" ) || ( -z "$EXPECTED" && "$code" != 2?? ) ]]; then
    echo "FIRST-HOUR FAILED: HTTP $code, the README expects $wanted: curl $*" >&2
    cat "$body" >&2; echo >&2
    rm -f "$body"
    return 1
  fi
  rm -f "$body"
}
"""


def readme_blocks(text: str) -> list[str]:
    """The ```sh blocks from "## Trying it" up to "## Who may do what"."""
    start, end = text.index("## Trying it"), text.index("## Who may do what")
    return re.findall(r"^```sh\n(.*?)^```", text[start:end], re.S | re.M)


def is_second_terminal(block: str) -> bool:
    commands = [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return len(commands) == 1 and "events watch" in commands[0]


def with_expectations(block: str) -> str:
    """``expect_status NNN`` before each command whose last line ends in ``# NNN``, reset after it."""
    lines = block.splitlines()
    out: list[str] = []
    for index, line in enumerate(lines):
        match = _EXPECTED.search(line) if not line.lstrip().startswith("#") else None
        if not match:
            out.append(line)
            continue
        first = index
        while first > 0 and lines[first - 1].rstrip().endswith("\\"):
            first -= 1
        out.insert(len(out) - (index - first), f"expect_status {match.group(1)}")
        out.extend([line, "expect_status"])
    return "\n".join(out)


def walk_script(blocks: list[str], address: str) -> str:
    parts = [PREAMBLE]
    for block in blocks:
        block = "\n".join(line for line in block.splitlines() if not re.match(r"^KEY=crm_\.\.\.", line))
        parts.append(with_expectations(block.replace("127.0.0.1:8000", address)))
        parts.append(f"sleep {PAUSE}")
    return "\n".join(parts) + "\necho FIRST-HOUR WALK DONE\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_walk(number: int, blocks: list[str], watchers: list[str], address: str, env: dict) -> None:
    print(f"--- walk {number} ---", flush=True)
    watching = [subprocess.Popen(["bash", "-c", block.replace("127.0.0.1:8000", address)], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
                for block in watchers]
    time.sleep(1.0)  # the watcher's queue is bound before the first event
    try:
        walk = subprocess.run(["bash", "-c", walk_script(blocks, address)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=WALK_TIMEOUT)
        print(walk.stdout[-4000:], flush=True)
        if walk.returncode != 0 or "FIRST-HOUR WALK DONE" not in walk.stdout:
            raise SystemExit(f"walk {number} failed (exit {walk.returncode}):\n{walk.stderr[-6000:]}")
        time.sleep(3.0)  # the outbox relay publishes within its poll interval
    finally:
        outputs = []
        for proc in watching:
            os.killpg(proc.pid, signal.SIGTERM)
            outputs.append(proc.communicate(timeout=30)[0].decode(errors="replace"))
    for output in outputs:
        if "sales.contract_signed" not in output:
            raise SystemExit(f"walk {number}: `crm events watch` never printed sales.contract_signed:\n"
                             f"{output[-3000:]}")


def main() -> int:
    from crm_testkit.throwaway import Throwaway

    blocks = readme_blocks(README.read_text())
    watchers = [b for b in blocks if is_second_terminal(b)]
    blocks = [b for b in blocks if not is_second_terminal(b)]
    throwaway = Throwaway("crm-first-hour", rabbit=os.environ.get("CRM_TEST_RABBIT", "guest:guest@127.0.0.1:5672"))
    workdir = Path(tempfile.mkdtemp(prefix="crm-first-hour-"))
    port = free_port()
    address = f"127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_DATABASE_URL") and k not in ("GATEWAY_ADMIN_KEY", "CRM_ADMIN_KEY", "CRM_API_KEY")}
    env.update(AMQP_URI=throwaway.vhost(), CRM_DATA_DIR=str(workdir / "data"), GATEWAY_HOST="127.0.0.1",
               GATEWAY_PORT=str(port), CRM_URL=f"http://{address}", PYTHONUNBUFFERED="1")
    crm = [sys.executable, "-m", "shared.cli"]
    started = time.monotonic()
    try:
        up = subprocess.run([*crm, "up"], cwd=workdir, env=env, capture_output=True, text=True, timeout=180)
        print(up.stdout, flush=True)
        found = re.search(r"Admin key:\s+(\S+)", up.stdout)
        if up.returncode != 0 or not found:
            raise SystemExit(f"crm up failed (exit {up.returncode}):\n{up.stderr[-4000:]}")
        env["KEY"] = found.group(1)
        for number in (1, 2):
            run_walk(number, blocks, watchers, address, env)
        print(f"first hour: the README walk ran twice in {time.monotonic() - started:.0f} s", flush=True)
        return 0
    except BaseException:
        for log in sorted((workdir / ".run").glob("*.log")):
            print(f"--- {log.name} (last lines) ---\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
        raise
    finally:
        subprocess.run([*crm, "down"], cwd=workdir, env=env, capture_output=True, timeout=120)
        throwaway.cleanup()


if __name__ == "__main__":
    sys.exit(main())
