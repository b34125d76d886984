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

OURS = re.compile(r"\((services|shared|gateway)/")


@contextmanager
def profiling(pids: dict[str, int], label: str, outdir: Path | None):
    if outdir is None:
        yield
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    outdir.mkdir(parents=True, exist_ok=True)
    recorders = {name: subprocess.Popen([spy, "record", "--gil", "--nonblocking", "--format", "raw", "--rate", "200",
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
            if OURS.search(frame):
                inclusive[frame] += samples
        own[frames[-1]] += samples
    lines = [f"{path.name}: {total} samples", "", "our code, inclusive:"]
    lines += [f"{100 * n / total:6.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    lines += ["", "self time, any code:"]
    lines += [f"{100 * n / total:6.1f}%  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines) + "\n"
