"""bench/soak.py runs end to end and leaves nothing behind.

A smoke test of the harness itself, with a few clients of each kind for a few
seconds: the report has all its parts, the normal clients got answers, the
attackers connected, the reload reached the proxy, and every process the
harness started is gone with its temporary directory, after a whole run and
after an interrupted one. Nothing here judges speed or the targets: that is
the harness's own report (see bench/README.md).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

SOAK = Path(__file__).resolve().parent.parent / "bench" / "soak.py"
TINY = (
    "--quick",
    "--clients", "4",
    "--slow-readers", "2",
    "--stalled", "2",
    "--silent", "4",
    "--baseline", "2",
    "--duration", "4",
    "--settle", "2",
    "--big-mb", "2",
)  # fmt: skip
TARGETS = [
    "failed normal requests",
    "p99 with attackers / without",
    "peak RSS MB (VmHWM)",
    "file descriptors after",
    "pages local in the outage and rewritten after",
]


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def test_a_quick_soak_reports_every_part_and_leaves_no_process_or_directory():
    result = subprocess.run(
        [sys.executable, str(SOAK), *TINY, "--json"], capture_output=True, text=True, timeout=90
    )

    assert result.returncode in (0, 1), result.stderr  # 1: a target missed, not a failure here
    report = json.loads(result.stdout)
    for phase in ("baseline", "attack"):
        assert report[phase]["requests"] > 0
        assert report[phase]["requests"] == (
            report[phase]["pages_rewritten"]
            + report[phase]["pages_local"]
            + report[phase]["logins"]
            + report[phase]["failed"]
        )
    assert {k: a["opened"] >= a["count"] for k, a in report["attackers"].items()} == {
        "slow readers": True,
        "stalled uploads": True,
        "silent connections": True,
    }
    assert report["reloads_ok"]["after"] == report["reloads_ok"]["before"] + 1
    assert set(report["moments"]) == {"reload", "outage_from", "outage_to"}
    assert report["proxy"]["fds"]["peak"] > report["proxy"]["fds"]["start"] > 0
    assert report["proxy"]["rss_mb"]["peak"] > 0
    assert report["proxy"]["alive_at_end"] is True
    assert [t["target"] for t in report["targets"]] == TARGETS
    assert report["passed"] == all(t["pass"] for t in report["targets"])
    assert result.returncode == (0 if report["passed"] else 1)
    assert "targets:" in result.stderr  # the text report, beside the JSON
    pids = report["cleanup"]["pids"]
    assert len(pids) == 5  # delivery host, upstream, proxy, one clients' process per phase
    assert [pid for pid in pids if not gone(pid)] == []
    assert not Path(report["cleanup"]["workdir"]).exists()


def test_an_interrupted_soak_stops_what_it_started_and_removes_its_directory():
    soak = subprocess.Popen(
        [sys.executable, str(SOAK), *TINY], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    assert soak.stderr is not None
    started = ""
    for line in soak.stderr:
        started += line.decode()
        if "baseline:" in line.decode():
            break
    time.sleep(1.0)  # the normal clients' process is running by now
    soak.send_signal(signal.SIGINT)
    rest = soak.communicate(timeout=30)[1].decode()

    assert soak.returncode == 2, started + rest
    assert "interrupted" in rest
    pids = [int(p) for p in re.findall(r"pid (\d+)", started)]
    assert len(pids) == 3
    assert [pid for pid in pids if not gone(pid)] == []
    workdir = re.search(r"started in (\S+):", started)
    assert workdir is not None
    assert not Path(workdir.group(1)).exists()
    assert processes_mentioning(workdir.group(1)) == []  # the normal clients' process too


def processes_mentioning(text: str) -> list[int]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if text.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            pass  # ended meanwhile
    return found
