"""Fixtures for end-to-end tests against real servers on loopback.

``wordpress``: one real WordPress 6.1 (Debian's packages) for the whole test
session, installed and seeded by tests/e2e/wordpress/harness.py and torn down at
the end, with the classic theme; ``block_theme_wordpress``: the same with the
block theme, started on first use. ``start_wordpress``: a factory for another, private one (another public
address or theme), stopped after the test.

Tests that use them are skipped, with the reason, where the packages are missing
(tests/e2e/wordpress/install-packages.sh installs them) or the run is not root.
With REWRITEPROXY_REQUIRE_WORDPRESS=1 in the environment (as CI sets it) they
fail instead, so a run meant to include them cannot pass without them.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness import Site, WordPress


def _load_harness() -> ModuleType:
    # The harness is a plain script folder (it is also run directly), not a package:
    # load it by path under a name of its own so it cannot shadow or be shadowed.
    path = Path(__file__).parent / "wordpress" / "harness.py"
    spec = importlib.util.spec_from_file_location("rewriteproxy_e2e_wordpress_harness", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


wordpress_harness = _load_harness()


def require_wordpress() -> None:
    """Skip (or, when required, fail) the calling test if WordPress cannot run here."""
    reasons = wordpress_harness.missing_requirements()
    if not reasons:
        return
    message = "real WordPress unavailable: " + "; ".join(reasons)
    if os.environ.get("REWRITEPROXY_REQUIRE_WORDPRESS") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def wordpress() -> Iterator[Site]:
    """A running, seeded WordPress (classic theme, http://wp.test); see harness.Site."""
    require_wordpress()
    with wordpress_harness.WordPress() as site:
        yield site


@pytest.fixture(scope="session")
def block_theme_wordpress() -> Iterator[Site]:
    """A second running, seeded WordPress at the same address with the block theme."""
    require_wordpress()
    with wordpress_harness.WordPress(theme=wordpress_harness.BLOCK_THEME) as site:
        yield site


@pytest.fixture
def start_wordpress() -> Iterator[Callable[..., WordPress]]:
    """Start another, private WordPress (arguments as harness.WordPress); stopped after the test."""
    require_wordpress()
    started: list[WordPress] = []

    def start(**kwargs: Any) -> WordPress:
        wp = wordpress_harness.WordPress(**kwargs)
        started.append(wp)
        wp.start()
        return wp

    yield start
    for wp in started:
        wp.stop()
