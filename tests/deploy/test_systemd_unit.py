"""conf/deploy/rewriteproxy.service: systemd accepts it, and it fits what ``serve`` does.

``systemd-analyze verify`` is systemd's own check of a unit file (unknown keys,
bad values, a program that is not there). It runs where systemd is installed and
the test is skipped, saying so, elsewhere. The unit's program path is that of an
installation, so the test points it at this environment's ``rewriteproxy``.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rewriteproxy.config import ServerConfig

UNIT = Path(__file__).resolve().parents[2] / "conf" / "deploy" / "rewriteproxy.service"
INSTALLED = "/opt/rewriteproxy/bin/rewriteproxy"
HERE = Path(sys.executable).parent / "rewriteproxy"  # the console script of this environment


def service_settings() -> dict[str, list[str]]:
    """The ``[Service]`` keys, each with its values in order (systemd allows repeats)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]":
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_systemd_analyze_verify_finds_nothing_to_say(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here (Debian's systemd package has it)")
    assert HERE.exists(), HERE
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(INSTALLED, str(HERE)))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, timeout=60)
    # An unknown key is only a warning (exit 0): the unit must draw none at all.
    assert (done.returncode, done.stdout + done.stderr) == (0, b""), done.stderr.decode()


def test_the_command_line_is_one_serve_accepts(tmp_path: Path) -> None:
    (start,) = service_settings()["ExecStart"]
    program, *args = shlex.split(start)
    assert program == INSTALLED and args[0] == "serve"
    missing = tmp_path / "rewriteproxy.yaml"
    args[args.index("--config") + 1] = str(missing)
    done = subprocess.run(
        [sys.executable, "-m", "rewriteproxy", *args], capture_output=True, timeout=60
    )
    # Past the argument parser (which would print its usage): the config file is missing.
    assert done.returncode == 2
    assert b"cannot read the config file" in done.stderr and b"usage:" not in done.stderr


def test_readiness_reload_and_stop_match_serve() -> None:
    service = service_settings()
    assert service["Type"] == ["notify"]  # serve sends READY=1 once it listens
    assert service["NotifyAccess"] == ["all"]  # forked workers report too
    assert service["ExecReload"] == ["/bin/kill -HUP $MAINPID"]  # SIGHUP reloads
    assert service["KillMode"] == ["mixed"]  # SIGTERM to the supervisor, which stops workers
    # systemd must not kill before requests in flight had their shutdown_timeout.
    assert float(service["TimeoutStopSec"][0]) > ServerConfig().shutdown_timeout


def test_it_is_hardened() -> None:
    service = service_settings()
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",  # temporary files: a /tmp of its own
        "DynamicUser": "yes",
        "CapabilityBoundingSet": "",
    }.items():
        assert service[key] == [value], key
