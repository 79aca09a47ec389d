"""The command line, run as a user runs it: a real process, real files, real sockets."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from rewriteproxy.cli import COMMANDS

from .conftest import CDN, PAGE, REWRITTEN_SRC
from .support.net import children_of, free_port, process_holding, wait_until_healthy

CONFIG = """
upstream: {upstream}
enabled: {enabled}
listen: {{host: 127.0.0.1, port: {port}}}
site:
  hosts: [wp.test]
delivery:
  provider: cdn
  cdn:
    base_url: {cdn}
admin: {{listen: "127.0.0.1:{admin}"}}
"""


def rewriteproxy(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "rewriteproxy", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


def write_config(
    path: Path,
    upstream: str = "http://127.0.0.1:9",
    enabled: bool = True,
    port: int = 0,
    admin: int = 0,
) -> Path:
    path.write_text(
        CONFIG.format(
            upstream=upstream, enabled=str(enabled).lower(), port=port, cdn=CDN, admin=admin
        )
    )
    return path


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = rewriteproxy(command, "--help")
    assert result.returncode == 0, result.stderr
    assert b"usage: rewriteproxy " + command.encode() in result.stdout


def test_rewrite_reads_stdin_and_writes_the_rewritten_document(tmp_path):
    config = write_config(tmp_path / "c.yaml")
    result = rewriteproxy("rewrite", "--config", str(config), stdin=PAGE)
    assert result.returncode == 0, result.stderr
    assert REWRITTEN_SRC in result.stdout


def test_rewrite_diff_shows_only_the_changed_lines(tmp_path):
    config = write_config(tmp_path / "c.yaml")
    result = rewriteproxy("rewrite", "--config", str(config), "--diff", stdin=PAGE)
    changed = [
        line
        for line in result.stdout.splitlines()
        if line[:1] in (b"+", b"-") and line[:3] not in (b"+++", b"---")
    ]
    assert len(changed) == 2
    assert REWRITTEN_SRC in changed[1]


@pytest.mark.parametrize(
    ("options", "rule"),
    [
        (["--url", "https://wp.test/wp-admin/post.php"], "path"),
        (["--url", "https://wp.test/?rewriteproxy=off"], "query"),
        (["--url", "https://wp.test/?p=1&preview=true"], "preview"),
        (["--url", "https://wp.test/wp-json/wp/v2/posts/1?context=edit"], "edit-context"),
        (["--header", "Authorization: Basic YWRtaW46eA=="], "authorization"),
        (["--header", "x-rewriteproxy: off"], "header"),
        (["--cookie", "wordpress_logged_in_abc=admin"], "logged-in"),
        (["--method", "POST"], "method"),
    ],
)
def test_rewrite_leaves_what_the_proxy_bypasses_alone_and_says_why(tmp_path, options, rule):
    config = write_config(tmp_path / "c.yaml")
    result = rewriteproxy("rewrite", "--config", str(config), *options, stdin=PAGE)
    assert result.returncode == 0
    assert result.stdout == PAGE
    assert f"the bypass rule '{rule}' applies".encode() in result.stderr


def test_rewrite_refuses_a_header_it_cannot_read(tmp_path):
    config = write_config(tmp_path / "c.yaml")
    result = rewriteproxy("rewrite", "--config", str(config), "--header", "nocolon", stdin=PAGE)
    assert result.returncode == 2
    assert b"expected 'Name: value'" in result.stderr


@dataclass(frozen=True)
class Trial:
    """How the failure tests run a command: its arguments besides ``--config``, whether it
    reads a config, and what it says when the bucket it uses is unreachable."""

    args: tuple[str, ...] = ()
    config: bool = True
    bucket: bytes | None = None


TRIALS = {
    "serve": Trial(),
    "demo": Trial(config=False),
    "rewrite": Trial(),
    "url": Trial(("http://wp.test/wp-content/uploads/a.jpg",)),
    "check": Trial(("--timeout", "2"), bucket=b"cannot be listed: cannot reach the S3 endpoint"),
    "config": Trial(("--example",), config=False),
    "schema": Trial(config=False),
    "sync": Trial(("{uploads}",), bucket=b"cannot reach the S3 endpoint"),
    "analyze": Trial(("{uploads}",), bucket=b"cannot reach the S3 endpoint"),
}


def trial(command: str) -> Trial:
    assert command in TRIALS, f"say in TRIALS how the failure tests run {command}"
    return TRIALS[command]


def command_line(command: str, config: Path, uploads: Path) -> list[str]:
    extra = [a.format(uploads=uploads) for a in trial(command).args]
    return [command, "--config", str(config), *extra] if trial(command).config else [command]


def stderr_lines(result: subprocess.CompletedProcess[bytes]) -> list[bytes]:
    return result.stderr.strip().splitlines()


def said(command: str, result: subprocess.CompletedProcess[bytes]) -> list[bytes]:
    """Where a command explains itself: ``check`` reports on stdout, the others on stderr."""
    assert b"Traceback" not in result.stderr
    return (result.stdout if command == "check" else result.stderr).strip().splitlines()


def failure_line(result: subprocess.CompletedProcess[bytes]) -> bytes:
    """The one line that says what failed; before it only sync's progress note may stand."""
    *before, last = stderr_lines(result)
    assert all(line.startswith(b"comparing ") for line in before), result.stderr
    return last


def test_every_command_says_how_the_failure_tests_run_it():
    assert set(TRIALS) == set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_argument_is_one_line_and_exit_2_for_every_command(command):
    result = rewriteproxy(command, "--no-such-option")
    assert result.returncode == 2
    [line] = stderr_lines(result)
    assert line.startswith(f"rewriteproxy {command}: ".encode())
    assert line.endswith(f"(see rewriteproxy {command} --help)".encode())


@pytest.mark.parametrize("command", [c for c in COMMANDS if trial(c).config])
def test_a_bad_config_is_one_line_and_exit_2_for_every_command(tmp_path, command):
    bad = tmp_path / "bad.yaml"
    bad.write_text("upstream: http://x\nsite:\n  hosts: [wp.test]\n  uplods_path: /x/\n")
    (tmp_path / "up").mkdir()
    result = rewriteproxy(*command_line(command, bad, tmp_path / "up"))
    assert result.returncode == 2
    [line] = said(command, result)
    assert b"site.uplods_path (line 4): unknown key; did you mean uploads_path?" in line
    missing = rewriteproxy(*command_line(command, tmp_path / "absent.yaml", tmp_path / "up"))
    assert missing.returncode == 2
    [line] = said(command, missing)
    assert b"cannot read the config file" in line


UNREACHABLE_BUCKET = """
upstream: http://127.0.0.1:{port}
site: {{hosts: [wp.test]}}
delivery: {{provider: s3, s3: {{bucket: media, region: us-east-1}}}}
inventory:
  s3: {{bucket: media, region: us-east-1, endpoint_url: "http://127.0.0.1:{port}"}}
"""


def run_against_a_closed_port(tmp_path: Path, command: str, credentials: bool):
    """``command`` with a bucket (and upstream) on a loopback port nothing listens on."""
    config = tmp_path / "s3.yaml"
    config.write_text(UNREACHABLE_BUCKET.format(port=free_port()))
    uploads = tmp_path / "up"
    (uploads / "2024").mkdir(parents=True)
    (uploads / "2024" / "a.jpg").write_bytes(b"x")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = str(tmp_path)  # no ~/.aws either
    if credentials:
        env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    return subprocess.run(
        [sys.executable, "-m", "rewriteproxy", *command_line(command, config, uploads)],
        capture_output=True,
        timeout=120,
        check=False,
        env=env,
    )


@pytest.mark.parametrize("command", [c for c in COMMANDS if trial(c).bucket])
def test_an_unreachable_bucket_is_exit_1_without_a_traceback(tmp_path, command):
    result = run_against_a_closed_port(tmp_path, command, credentials=True)
    assert result.returncode == 1, result.stderr
    assert b"Traceback" not in result.stderr
    message = trial(command).bucket
    assert message is not None
    if command == "check":
        # check reports each part it probes on a line of its own, the bucket's on one.
        report = said(command, result)
        assert [line.split()[0] for line in report] == [
            b"config",
            b"upstream",
            b"inventory",
            b"delivery",
            b"circuit",
        ]
        assert message in report[2] and b"FAILED" in report[2]
    else:
        line = failure_line(result)
        assert line.startswith(f"rewriteproxy {command}: ".encode() + message)


@pytest.mark.parametrize("command", ["sync", "analyze"])
def test_missing_credentials_are_one_line_and_exit_1(tmp_path, command):
    result = run_against_a_closed_port(tmp_path, command, credentials=False)
    assert result.returncode == 1, result.stderr
    line = failure_line(result)
    assert line.startswith(f"rewriteproxy {command}: no S3 credentials found".encode())


def test_the_traceback_is_there_at_debug_level(tmp_path):
    config = tmp_path / "s3.yaml"
    config.write_text(UNREACHABLE_BUCKET.format(port=free_port()))
    (tmp_path / "up").mkdir()
    result = rewriteproxy("--log-level", "DEBUG", *command_line("analyze", config, tmp_path / "up"))
    assert result.returncode == 1
    assert b"Traceback" in result.stderr


async def test_sighup_reloads_and_enabled_false_restores_local_urls(tmp_path, aiohttp_server):
    async def page(request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    origin = await aiohttp_server(app)
    port, admin = free_port(), free_port()
    upstream = str(origin.make_url("")).rstrip("/")
    config = write_config(tmp_path / "c.yaml", upstream, True, port, admin)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rewriteproxy",
        "serve",
        "--config",
        str(config),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            await wait_until_healthy(f"http://127.0.0.1:{admin}/health")

            async def fetch() -> bytes:
                async with session.get(base + "/") as response:
                    return await response.read()

            assert REWRITTEN_SRC in await fetch()

            write_config(config, upstream, False, port, admin)
            process.send_signal(signal.SIGHUP)
            assert await _eventually(fetch, lambda body: body == PAGE)

            config.write_text("upstream: [broken")  # a bad reload keeps the running config
            process.send_signal(signal.SIGHUP)
            await asyncio.sleep(0.5)
            assert await fetch() == PAGE
            async with session.get(f"http://127.0.0.1:{admin}/metrics") as response:
                metrics = await response.text()
            assert 'rewriteproxy_config_reloads_total{result="failed"} 1.0' in metrics
            assert process.returncode is None
    finally:
        process.terminate()
        _, stderr = await asyncio.wait_for(process.communicate(), 10)
    assert b"reload failed, keeping the running config" in stderr


async def _eventually(fetch, accept) -> bool:  # type: ignore[no-untyped-def]
    for _ in range(100):
        if accept(await fetch()):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_workers_share_the_port_and_stop_together(tmp_path):
    port, admin = free_port(), free_port()
    config = write_config(tmp_path / "c.yaml", port=port, admin=admin)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rewriteproxy",
        "serve",
        "--config",
        str(config),
        "--workers",
        "2",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pids = set()
    try:
        await wait_until_healthy(f"http://127.0.0.1:{admin}/health")
        for _ in range(200):  # a new connection each time: the kernel spreads them
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:  # the workers may still be starting
                await asyncio.sleep(0.05)
                continue
            writer.write(b"GET / HTTP/1.1\r\nHost: wp.test\r\n\r\n")
            await reader.readuntil(b"\r\n\r\n")  # answered (502: nothing upstream)
            children = children_of(process.pid)
            pids.add(process_holding(writer.get_extra_info("socket"), children))
            writer.close()
            if len(pids - {None}) == 2:
                break
            await asyncio.sleep(0.02)  # the second worker may still be starting
    finally:
        process.terminate()
        code = await asyncio.wait_for(process.wait(), 15)
    pids.discard(None)
    assert len(pids) == 2
    assert process.pid not in pids  # the parent only supervises
    assert code == 0


def test_rewrite_says_why_nothing_changed(tmp_path):
    config = write_config(tmp_path / "c.yaml")
    page = (
        b'<img src="https://www.wp.test/wp-content/uploads/a.jpg">'
        b'<script>var u = "https:\\/\\/old.example\\/wp-content\\/uploads\\/b.jpg";</script>'
    )
    result = rewriteproxy("rewrite", "--config", str(config), "--diff", stdin=page)
    assert result.returncode == 0
    assert result.stdout == b""
    assert (
        b"nothing rewritten: 2 URLs under /wp-content/uploads/ are on hosts not in site.hosts: "
        b"www.wp.test (1), old.example (1)"
    ) in result.stderr
    plain = rewriteproxy("rewrite", "--config", str(config), stdin=b"<p>text</p>")
    assert b"no URL under /wp-content/uploads/ in the document" in plain.stderr
