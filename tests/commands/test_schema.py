"""``rewriteproxy schema`` and ``rewriteproxy config --example``, through the command line."""

from __future__ import annotations

import json

import pytest

from rewriteproxy.cli import main
from rewriteproxy.config import parse_config
from rewriteproxy.reference import EXAMPLES, example, json_schema


def test_schema_prints_the_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema()


@pytest.mark.parametrize("provider", EXAMPLES)
def test_config_example_prints_a_file_that_loads(
    provider: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "--example", provider]) == 0
    out = capsys.readouterr().out
    assert out == example(provider)
    assert parse_config(out, environ={}).delivery.provider == provider


def test_config_example_defaults_to_cdn_and_refuses_an_unknown_provider(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["config", "--example"]) == 0
    assert parse_config(capsys.readouterr().out, environ={}).delivery.provider == "cdn"
    with pytest.raises(SystemExit) as exit:
        main(["config", "--example", "akamai"])
    assert exit.value.code == 2
    assert "invalid choice: 'akamai'" in capsys.readouterr().err
