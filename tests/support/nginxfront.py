"""The committed nginx site (conf/deploy/nginx-site.conf), run by Debian's nginx on loopback.

:func:`site_config` is that file with only its addresses and paths replaced: the
ports it listens on, rewriteproxy's address, the server name and the
certificate. Each replaced value must be in the file, so a change there that
the tests would no longer cover fails them instead. :class:`NginxFront` wraps it
in the few lines of ``nginx.conf`` a Debian host has around its sites (a prefix
of its own for the pid, logs and temporary files), plus whatever extra
``server`` blocks a test needs, and runs it. :func:`self_signed` makes the
certificate with the openssl command.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "conf" / "deploy" / "nginx-site.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

# What the committed file says, and what a test puts in its place.
LISTEN_TLS = "listen 443 ssl http2;"
LISTEN_PLAIN = "listen 80;"
REWRITEPROXY = "server 127.0.0.1:8000;"
SERVER_NAME = "server_name www.example.com;"
CERTIFICATE = "/etc/letsencrypt/live/www.example.com/fullchain.pem"
KEY = "/etc/letsencrypt/live/www.example.com/privkey.pem"


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


def self_signed(directory: Path, names: tuple[str, ...], ips: tuple[str, ...] = ()) -> Certificate:
    """A self-signed certificate (and its key) for ``names`` and ``ips``, valid one day."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    alt = ",".join([*(f"DNS:{n}" for n in names), *(f"IP:{i}" for i in ips)])
    subprocess.run(
        [
            OPENSSL,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={names[0]}",
            "-addext",
            f"subjectAltName={alt}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return Certificate(cert, key)


def site_config(
    *, tls_port: int, plain_port: int, rewriteproxy_port: int, server_name: str, tls: Certificate
) -> str:
    """conf/deploy/nginx-site.conf with its addresses and paths made this test's."""
    text = SITE.read_text()
    for old, new in {
        LISTEN_TLS: f"listen 127.0.0.1:{tls_port} ssl http2;",
        LISTEN_PLAIN: f"listen 127.0.0.1:{plain_port};",
        REWRITEPROXY: f"server 127.0.0.1:{rewriteproxy_port};",
        SERVER_NAME: f"server_name {server_name};",
        CERTIFICATE: str(tls.cert),
        KEY: str(tls.key),
    }.items():
        assert old in text, f"{SITE.name} no longer says {old!r}"
        text = text.replace(old, new)
    return text


def main_config(prefix: Path, site: str, extra: str = "") -> str:
    """An ``nginx.conf`` around ``site``, everything it writes kept below ``prefix``."""
    (prefix / "site.conf").write_text(site)
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "temp" / name).mkdir(parents=True, exist_ok=True)
    return f"""daemon off;
user root;
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"};
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix / "access.log"};
    client_body_temp_path {prefix / "temp/body"};
    proxy_temp_path {prefix / "temp/proxy"};
    fastcgi_temp_path {prefix / "temp/fastcgi"};
    uwsgi_temp_path {prefix / "temp/uwsgi"};
    scgi_temp_path {prefix / "temp/scgi"};
    include {prefix / "site.conf"};
{extra}
}}
"""


def check_config(prefix: Path, config: str) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` of ``config``: nginx's own check of the syntax, the files and the ports."""
    path = prefix / "nginx.conf"
    path.write_text(config)
    return subprocess.run(
        [NGINX, "-t", "-p", str(prefix), "-c", str(path), "-e", str(prefix / "error.log")],
        capture_output=True,
        text=True,
        timeout=60,
    )


class NginxFront:
    """Debian's nginx running ``config`` until the block ends."""

    def __init__(self, prefix: Path, config: str, ports: tuple[int, ...]) -> None:
        self.prefix = prefix
        self.config = config
        self.ports = ports
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> NginxFront:
        path = self.prefix / "nginx.conf"
        path.write_text(self.config)
        log = (self.prefix / "nginx.out").open("wb")
        self._process = subprocess.Popen(
            [NGINX, "-p", str(self.prefix), "-c", str(path), "-e", str(self.prefix / "error.log")],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 20
        while not all(_listening(port) for port in self.ports):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise AssertionError(f"nginx did not start: {self.log()}")
            time.sleep(0.05)
        return self

    def log(self) -> str:
        return "".join(
            p.read_text(errors="replace")
            for p in (self.prefix / "nginx.out", self.prefix / "error.log")
            if p.exists()
        )

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0
