"""One line per metric on the terminal and the same in ``bench/results.json``:
``{"metric": {"value", "baseline", "ratio", "target", "unit", ...details}}``."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

RESULTS = Path(__file__).with_name("results.json")


@dataclass
class Metric:
    name: str
    value: float
    baseline: float
    unit: str
    target: float
    details: dict = field(default_factory=dict)
    note: str = ""              # the short details printed on the line (latencies, memory)
    extra_target: str = ""      # a second condition, e.g. "memory <= 300 MB"
    extra_met: bool = True
    problems: list[str] = field(default_factory=list)   # errors, missing rows: the run is not valid

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else 0.0

    @property
    def met(self) -> bool:
        return round(self.ratio, 2) >= self.target and self.extra_met and not self.problems

    def line(self) -> str:
        target = f">= {self.target:g}" + (f", {self.extra_target}" if self.extra_target else "")
        verdict = "OK" if self.met else "MISSED"
        note = "; ".join(x for x in (self.note, *self.problems) if x)
        ratio = f"{self.ratio:5.2f}" if self.ratio >= 0.1 else f"{self.ratio:5.2g}"
        return (f"{self.name:<20} ours {self.value:9.1f} {self.unit:<8} baseline {self.baseline:9.1f} "
                f"{self.unit:<8} ratio {ratio}  target {target}  {verdict}" + (f" ({note})" if note else ""))

    def as_json(self) -> dict:
        return {"value": round(self.value, 2), "baseline": round(self.baseline, 2), "ratio": round(self.ratio, 4),
                "target": self.target, "unit": self.unit, "met": self.met,
                **({"extra_target": self.extra_target} if self.extra_target else {}),
                **({"problems": self.problems} if self.problems else {}), **self.details}


def cpu_line(metric: Metric) -> str:
    """Where the CPU went: milliseconds per operation for ours and the baseline."""
    cpu = metric.details.get("cpu_ms_per_op") or {}
    parts = []
    for side in ("ours", "baseline"):
        if cpu.get(side):
            procs = {k: v for k, v in cpu[side].items() if k not in ("total", "busy_pct")}
            floor = cpu[side]["total"] / 100
            shown = ", ".join(f"{k} {v:.3g}" for k, v in sorted(procs.items(), key=lambda kv: -kv[1]) if v >= floor)
            parts.append(f"{side} {cpu[side]['total']:.3g} ({shown}; machine {cpu[side]['busy_pct']}% busy)" if shown
                         else f"{side}: too short to measure")
    return f"{'':<20} cpu ms/op: " + " | ".join(parts) if parts else ""


def write(metrics: list[Metric], path: Path = RESULTS) -> None:
    path.write_text(json.dumps({m.name: m.as_json() for m in metrics}, indent=2) + "\n")
