"""Loading the HTML engine's optional C extensions, or deliberately not.

``_tokenizer`` and ``_values`` are built by ``pip install`` where a C compiler is
present. Each has a pure-Python reference that gives the same output, so both
are optional: a module that is not built is ``None`` here, and the engine uses
its reference code.

``REWRITEPROXY_NO_NATIVE=1`` in the environment makes every extension count as
not built, in every process that reads it at import: the way to run the suite
(or a proxy) on the reference code alone without uninstalling anything. It is
read once, when the engine's modules are first imported.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

__all__ = ["DISABLE_VARIABLE", "disabled", "load"]

DISABLE_VARIABLE = "REWRITEPROXY_NO_NATIVE"


def disabled() -> bool:
    """Whether the environment asks for the pure-Python engine (any value but "" or "0")."""
    return os.environ.get(DISABLE_VARIABLE, "") not in ("", "0")


def load(name: str) -> ModuleType | None:
    """``rewriteproxy.html.<name>``, or ``None`` when it is not built or is disabled."""
    if disabled():
        return None
    try:
        return importlib.import_module(f"rewriteproxy.html.{name}")
    except ImportError:
        return None
