"""``rewriteproxy check`` with Cloudinary auto-upload: the mapping is asked about.

Cloudinary is a local stand-in for its Admin API (:mod:`tests.support.cloudinaryserver`):
it is a hosted service and these tests have no network. The upstream and the delivery
host are unreachable here, so check fails on them whatever the mapping; what is shown is
the mapping's own line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from rewriteproxy.commands import check
from tests.support.cloudinaryserver import threaded_stand_in
from tests.support.net import free_port


def run_check(config: Path) -> int:
    parser = argparse.ArgumentParser()
    check.add_arguments(parser)
    return int(check.run(parser.parse_args(["--config", str(config), "--timeout", "1"])))


def test_check_reports_the_folders_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with threaded_stand_in() as stand_in:
        config = tmp_path / "rewriteproxy.yaml"
        config.write_text(f"""
upstream: http://127.0.0.1:{free_port()}
site: {{hosts: [wp.test]}}
delivery:
  provider: cloudinary
  cloudinary:
    cloud_name: {stand_in.cloud_name}
    folder: wp
    api_key: "{stand_in.api_key}"
    api_secret: "{stand_in.api_secret}"
    api_base_url: {stand_in.base_url}
""")
        assert run_check(config) == 1
        assert (
            "cloudinary auto-upload: folder 'wp' has no upload mapping" in capsys.readouterr().err
        )
        stand_in.mappings["wp"] = "https://wp.test/wp-content/uploads/"
        run_check(config)
        out = capsys.readouterr().out
        assert "cloudinary auto-upload: folder 'wp' auto-uploads from https://wp.test/" in out
