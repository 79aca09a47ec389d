"""Counters for the metrics endpoint, in Prometheus's text format.

Plain integers on one object: one process, one event loop, no locks needed.
Several workers each expose their own counts (scrape each, or sum them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Metrics"]


@dataclass
class Metrics:
    requests: Counter[str] = field(default_factory=Counter)  # by outcome
    bypassed: Counter[str] = field(default_factory=Counter)  # by reason
    rewrite_seconds: float = 0.0
    rewritten_bytes: int = 0
    reloads: Counter[str] = field(default_factory=Counter)  # ok / failed

    def render(self, gauges: dict[str, float] | None = None) -> str:
        lines: list[str] = []
        _counter(lines, "requests_total", "Requests by outcome.", "outcome", self.requests)
        _counter(
            lines,
            "bypassed_total",
            "Requests passed through untouched, by reason.",
            "reason",
            self.bypassed,
        )
        _counter(lines, "config_reloads_total", "Config reloads by result.", "result", self.reloads)
        lines += [
            "# TYPE rewriteproxy_rewrite_seconds_total counter",
            f"rewriteproxy_rewrite_seconds_total {self.rewrite_seconds:.6f}",
            "# TYPE rewriteproxy_rewritten_bytes_total counter",
            f"rewriteproxy_rewritten_bytes_total {self.rewritten_bytes}",
        ]
        for name, value in (gauges or {}).items():
            lines += [f"# TYPE rewriteproxy_{name} gauge", f"rewriteproxy_{name} {value}"]
        return "\n".join(lines) + "\n"


def _counter(lines: list[str], name: str, help_text: str, label: str, counts: Counter[str]) -> None:
    lines += [f"# HELP rewriteproxy_{name} {help_text}", f"# TYPE rewriteproxy_{name} counter"]
    lines += [
        f'rewriteproxy_{name}{{{label}="{key}"}} {value}' for key, value in sorted(counts.items())
    ]
