"""Fixtures for the inventory tests: the real S3 server (SeaweedFS) on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.s3server import S3Server, s3_server_fixture


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: Any) -> Iterator[S3Server]:
    yield from s3_server_fixture(tmp_path_factory)
