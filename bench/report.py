"""One line per metric on the terminal and the same in ``bench/results.json``."""
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
    extra_target: str = ""
    extra_met: bool = True

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else 0.0

    @property
    def met(self) -> bool:
        return self.ratio >= self.target and self.extra_met

    def line(self) -> str:
        target = f">= {self.target}" + (f", {self.extra_target}" if self.extra_target else "")
        details = ", ".join(f"{k} {v}" for k, v in self.details.items())
        return (f"{self.name:<22} ours {self.value:>10.1f} {self.unit:<7} baseline {self.baseline:>10.1f} "
                f"{self.unit:<7} ratio {self.ratio:6.3f}  target {target:<24} {'OK' if self.met else 'MISSED'}"
                + (f"  ({details})" if details else ""))

    def as_json(self) -> dict:
        return {"value": round(self.value, 2), "baseline": round(self.baseline, 2), "ratio": round(self.ratio, 4),
                "target": self.target, "unit": self.unit, "met": self.met,
                **({"extra_target": self.extra_target} if self.extra_target else {}), **self.details}


def write(metrics: list[Metric]) -> None:
    RESULTS.write_text(json.dumps({m.name: m.as_json() for m in metrics}, indent=2) + "\n")
