"""Counters for the metrics endpoint, in Prometheus's text format.

Plain integers on one object: one process, one event loop, no locks needed.
Several workers each expose their own counts (scrape each, or sum them).
Gauges are read from the running parts when the endpoint is scraped and
handed to :meth:`Metrics.render`; counters live here, so they survive a
reload that replaces the part that counts (they only ever go up).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["CIRCUIT_STATE_VALUES", "LabelledGauge", "Metrics"]

# The value of the circuit gauge for each state: above 0, pages keep their local URLs.
CIRCUIT_STATE_VALUES = {"closed": 0.0, "half_open": 1.0, "open": 2.0}


@dataclass(frozen=True, slots=True)
class LabelledGauge:
    """One gauge family with one label: ``rewriteproxy_<name>{<label>="key"} value``."""

    name: str
    help_text: str
    label: str
    values: Mapping[str, float]


@dataclass
class Metrics:
    requests: Counter[str] = field(default_factory=Counter)  # by outcome
    bypassed: Counter[str] = field(default_factory=Counter)  # by reason
    rewrite_seconds: float = 0.0
    rewritten_bytes: int = 0
    url_errors: int = 0  # URLs kept local because mapping them raised (the rest was rewritten)
    reloads: Counter[str] = field(default_factory=Counter)  # ok / failed
    circuit_transitions: Counter[tuple[str, str]] = field(default_factory=Counter)  # (host, to)

    def render(
        self, gauges: dict[str, float] | None = None, labelled: Sequence[LabelledGauge] = ()
    ) -> str:
        lines: list[str] = []
        _counter(
            lines, "requests_total", "Requests by outcome.", ("outcome",), _keyed(self.requests)
        )
        _counter(
            lines,
            "bypassed_total",
            "Requests passed through untouched, by reason.",
            ("reason",),
            _keyed(self.bypassed),
        )
        _counter(
            lines,
            "config_reloads_total",
            "Config reloads by result.",
            ("result",),
            _keyed(self.reloads),
        )
        _counter(
            lines,
            "delivery_circuit_transitions_total",
            "Changes of state of a delivery host's circuit, by host and new state.",
            ("host", "to"),
            self.circuit_transitions,
        )
        lines += [
            "# TYPE rewriteproxy_rewrite_seconds_total counter",
            f"rewriteproxy_rewrite_seconds_total {self.rewrite_seconds:.6f}",
            "# TYPE rewriteproxy_rewritten_bytes_total counter",
            f"rewriteproxy_rewritten_bytes_total {self.rewritten_bytes}",
            "# HELP rewriteproxy_url_mapping_errors_total URLs kept local because mapping"
            " them raised; the rest of their page was still rewritten.",
            "# TYPE rewriteproxy_url_mapping_errors_total counter",
            f"rewriteproxy_url_mapping_errors_total {self.url_errors}",
        ]
        for name, value in (gauges or {}).items():
            lines += [f"# TYPE rewriteproxy_{name} gauge", f"rewriteproxy_{name} {value}"]
        for gauge in labelled:
            lines += [
                f"# HELP rewriteproxy_{gauge.name} {gauge.help_text}",
                f"# TYPE rewriteproxy_{gauge.name} gauge",
            ]
            lines += [
                f'rewriteproxy_{gauge.name}{{{gauge.label}="{_escaped(key)}"}} {value}'
                for key, value in sorted(gauge.values.items())
            ]
        return "\n".join(lines) + "\n"


def _keyed(counts: Counter[str]) -> Counter[tuple[str, ...]]:
    return Counter({(key,): value for key, value in counts.items()})


def _counter(
    lines: list[str],
    name: str,
    help_text: str,
    labels: tuple[str, ...],
    counts: Mapping[tuple[str, str], int] | Mapping[tuple[str, ...], int],
) -> None:
    lines += [f"# HELP rewriteproxy_{name} {help_text}", f"# TYPE rewriteproxy_{name} counter"]
    for key, value in sorted(counts.items()):
        pairs = ",".join(f'{label}="{_escaped(v)}"' for label, v in zip(labels, key, strict=True))
        lines.append(f"rewriteproxy_{name}{{{pairs}}} {value}")


def _escaped(value: str) -> str:
    """A label value as the text format wants it (host names never need it; errors might)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
