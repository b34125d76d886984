"""Where the time goes: py-spy records every suite process while a metric
runs (``python -m bench.run --profile DIR``), and the collapsed stacks are
summed per function so the hot spots of our own code stand out."""
from __future__ import annotations

import collections
import re
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# py-spy shortens file names (``shared/outbox.py``, ``sales/service.py`` or a
# bare ``leads.py``): a frame is ours when its file is one of the suite's.
_QUALIFIED = sorted({f"{p.parent.name}/{p.name}" for d in ("services", "shared", "gateway")
                     for p in (ROOT / d).rglob("*.py")})
_BARE = sorted({p.name for p in (ROOT / "services").rglob("*.py") if p.name != "__init__.py"})
OURS = re.compile(r"\((?:(?:[^()]*/)?(?:" + "|".join(map(re.escape, _QUALIFIED)) + r")|(?:"
                  + "|".join(map(re.escape, _BARE)) + r")):\d+\)$")
IDLE_FRAMES = re.compile(r"threading\.py|greenthread\.py|greenlet|hubs/|_bootstrap|concurrent/futures|runpy|"
                         r"gunicorn/(arbiter|app|__main__)")


@contextmanager
def profiling(pids: dict[str, int], label: str, outdir: Path | None):
    if outdir is None:
        yield
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    outdir.mkdir(parents=True, exist_ok=True)
    recorders = {name: subprocess.Popen([spy, "record", "--gil", "--nonblocking", "--format", "raw", "--rate", "100",
                                         "-p", str(pid), "-o", str(outdir / f"{label}.{name}.txt")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for name, pid in pids.items()}
    try:
        yield
    finally:
        for recorder in recorders.values():
            recorder.send_signal(signal.SIGINT)
        for recorder in recorders.values():
            recorder.wait(30)
        for name in recorders:
            path = outdir / f"{label}.{name}.txt"
            if path.exists():
                (outdir / f"{label}.{name}.summary.txt").write_text(summarise(path))


def summarise(path: Path, top: int = 25) -> str:
    """Samples per function: inclusive for our code, self time for everything."""
    inclusive: collections.Counter = collections.Counter()
    anywhere: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        for frame in set(frames):
            anywhere[frame] += samples
            if OURS.search(frame):
                inclusive[frame] += samples
        own[frames[-1]] += samples
    lines = [f"{path.name}: {total} samples", "", "our code, inclusive:"]
    lines += [f"{100 * n / total:6.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    lines += ["", "any code, inclusive (threads and greenlets' own frames left out):"]
    lines += [f"{100 * n / total:6.1f}%  {frame}" for frame, n in anywhere.most_common(top * 3)
              if not IDLE_FRAMES.search(frame)][:top]
    lines += ["", "self time, any code:"]
    lines += [f"{100 * n / total:6.1f}%  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines) + "\n"
