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

    def render(self, extra: dict[str, float] | None = None) -> str:
        lines = [
            "# HELP rewriteproxy_requests_total Requests by outcome.",
            "# TYPE rewriteproxy_requests_total counter",
        ]
        lines += [
            f'rewriteproxy_requests_total{{outcome="{k}"}} {v}'
            for k, v in sorted(self.requests.items())
        ]
        lines += [
            "# HELP rewriteproxy_bypassed_total Requests passed through untouched, by reason.",
            "# TYPE rewriteproxy_bypassed_total counter",
        ]
        lines += [
            f'rewriteproxy_bypassed_total{{reason="{k}"}} {v}'
            for k, v in sorted(self.bypassed.items())
        ]
        lines += [
            "# HELP rewriteproxy_config_reloads_total Config reloads by result.",
            "# TYPE rewriteproxy_config_reloads_total counter",
        ]
        lines += [
            f'rewriteproxy_config_reloads_total{{result="{k}"}} {v}'
            for k, v in sorted(self.reloads.items())
        ]
        lines += [
            "# TYPE rewriteproxy_rewrite_seconds_total counter",
            f"rewriteproxy_rewrite_seconds_total {self.rewrite_seconds:.6f}",
            "# TYPE rewriteproxy_rewritten_bytes_total counter",
            f"rewriteproxy_rewritten_bytes_total {self.rewritten_bytes}",
        ]
        for name, value in (extra or {}).items():
            lines += [f"# TYPE rewriteproxy_{name} gauge", f"rewriteproxy_{name} {value}"]
        return "\n".join(lines) + "\n"
