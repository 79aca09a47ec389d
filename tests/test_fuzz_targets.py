"""The fuzz targets' checks (fuzz/targets.py) hold on their seed inputs, without atheris.

The fuzzer itself is not run here (``python fuzz/run.py`` does that, for as long
as it is told); this keeps its checks importable and true on the inputs it
starts from, and shows each check can fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz import targets
from fuzz.run import NAMES

SEEDS = Path(__file__).resolve().parent.parent / "fuzz" / "seeds"


def test_every_target_has_seeds_and_a_dictionary() -> None:
    assert tuple(targets.TARGETS) == NAMES
    for name in NAMES:
        assert list((SEEDS / name).iterdir()), name
        assert (SEEDS.parent / "dict" / f"{name}.dict").read_text().strip(), name


@pytest.mark.parametrize(
    ("name", "seed"),
    [(name, seed.name) for name in NAMES for seed in sorted((SEEDS / name).iterdir())],
)
def test_the_checks_hold_on_every_seed(name: str, seed: str) -> None:
    targets.TARGETS[name]((SEEDS / name / seed).read_bytes())


def test_the_url_check_compares_with_a_whatwg_parser() -> None:
    assert targets.WhatwgUrl is not None  # ada-url is a test dependency


def test_a_mapping_that_breaks_idempotence_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """A mapping whose output is an upload URL again: every format check must object."""
    monkeypatch.setattr(targets, "map_url", lambda url: url + "x" if "uploads/" in url else None)
    for name in ("srcset", "css", "json", "urltext", "html"):
        seed = sorted((SEEDS / name).iterdir())[0].read_bytes()
        with pytest.raises(AssertionError):
            targets.TARGETS[name](seed)
