"""The switch that turns the C extensions off: ``REWRITEPROXY_NO_NATIVE=1``.

Each case imports the engine in a fresh interpreter, since the switch is read
when the engine's modules are first imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rewriteproxy.html import native

PROBE = """
import json
from rewriteproxy.html import native, rewriter, scanner
print(json.dumps([scanner.NATIVE, rewriter.NATIVE, native.load("_values") is not None]))
"""


def _flags(value: str | None) -> list[bool]:
    env = {k: v for k, v in os.environ.items() if k != native.DISABLE_VARIABLE}
    if value is not None:
        env[native.DISABLE_VARIABLE] = value
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def _built() -> bool:
    try:
        from rewriteproxy.html import _tokenizer, _values  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("value", ["1", "yes"])
def test_the_variable_makes_every_extension_count_as_not_built(value):
    assert _flags(value) == [False, False, False]


@pytest.mark.parametrize("value", [None, "", "0"])
def test_without_it_the_built_extensions_are_used(value):
    assert _flags(value) == [_built()] * 3
