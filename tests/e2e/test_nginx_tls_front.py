"""The deployment in conf/deploy, run: nginx terminates TLS, rewriteproxy rewrites, WordPress answers.

    Chromium --https--> nginx (conf/deploy/nginx-site.conf) --http--> rewriteproxy serve
        (conf/deploy/rewriteproxy.yaml) --http--> the session's real WordPress

The committed files are used with only their addresses and paths replaced
(tests/support/nginxfront.py), the certificate is self-signed by the openssl
command. WordPress believes ``X-Forwarded-Proto: https`` through Debian's own
wp-config.php, which has the lines of conf/deploy/wordpress-https.php (what any
other WordPress needs; tests/deploy/test_nginx_site.py runs them in PHP).
Chromium reaches https://wp.test through a host-resolver rule that sends wp.test
to nginx's loopback port. The delivery host stands in for a pull CDN: the same
nginx serves the uploads folder over TLS on a port of its own, and the proxy's
probe of it trusts the test's certificate through SSL_CERT_FILE.

What it shows: WordPress builds its page with https URLs, because nginx's
``X-Forwarded-Proto: https`` reaches it through rewriteproxy's
``proxy.trusted_proxies`` (reloaded without nginx's address there, the same page
comes out http); every upload image loads in Chromium over https from the
delivery host; plain http is redirected to https.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ..support.net import free_port
from ..support.nginxfront import (
    Certificate,
    NginxFront,
    main_config,
    self_signed,
    site_config,
)
from ..support.notifysocket import NotifySocket
from .browser import require_chromium, visit

if TYPE_CHECKING:
    from harness import Site

pytestmark = [pytest.mark.wordpress, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "conf" / "deploy"
HOST = "wp.test"


def proxy_config(site: Site, port: int, delivery: str, trusted: str = "127.0.0.1/32") -> str:
    """conf/deploy/rewriteproxy.yaml with this test's addresses and paths."""
    text = (DEPLOY / "rewriteproxy.yaml").read_text()
    for old, new in {
        "http://127.0.0.1:8080": site.base_url,
        "port: 8000": f"port: {port}",
        "127.0.0.1:9188": f"127.0.0.1:{free_port()}",
        "www.example.com": HOST,
        "https://cdn.example.com/wp-content/uploads/": delivery,
        "/var/www/html/wp-content/uploads": str(site.uploads_dir),
        "127.0.0.1/32": trusted,
    }.items():
        assert old in text, f"rewriteproxy.yaml no longer says {old!r}"
        text = text.replace(old, new)
    return text


def delivery_server(port: int, tls: Certificate, uploads: Path) -> str:
    """A stand-in pull CDN: the uploads folder over TLS."""
    return f"""
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {tls.cert};
        ssl_certificate_key {tls.key};
        location /wp-content/uploads/ {{ alias {uploads}/; }}
    }}"""


class _ToNginx(http.client.HTTPSConnection):
    """https://wp.test/ on nginx's loopback port: SNI and certificate check for wp.test."""

    def __init__(self, port: int, context: ssl.SSLContext) -> None:
        super().__init__(HOST, port, timeout=60, context=context)
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=HOST)


def get_https(port: int, tls: Certificate, path: str) -> tuple[int, bytes]:
    conn = _ToNginx(port, ssl.create_default_context(cafile=str(tls.cert)))
    try:
        conn.request("GET", path, headers={"Host": HOST})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def get_plain(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers={"Host": HOST})
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("Location", "")
    finally:
        conn.close()


async def test_nginx_terminates_tls_and_wordpress_sees_https(wordpress: Site, tmp_path: Path):
    require_chromium()
    tls_port, plain_port, cdn_port, proxy_port = (free_port() for _ in range(4))
    tls = self_signed(tmp_path, (HOST,), ("127.0.0.1",))
    delivery = f"https://127.0.0.1:{cdn_port}/wp-content/uploads/"
    config = tmp_path / "rewriteproxy.yaml"
    config.write_text(proxy_config(wordpress, proxy_port, delivery))
    site = site_config(
        tls_port=tls_port,
        plain_port=plain_port,
        rewriteproxy_port=proxy_port,
        server_name=HOST,
        tls=tls,
    )
    nginx_config = main_config(
        tmp_path, site, delivery_server(cdn_port, tls, wordpress.uploads_dir)
    )

    with (
        NotifySocket() as systemd,
        NginxFront(tmp_path, nginx_config, (tls_port, plain_port, cdn_port)) as nginx,
    ):
        proxy = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "rewriteproxy",
            "serve",
            "--config",
            str(config),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**systemd.environ, "SSL_CERT_FILE": str(tls.cert)},
            cwd=ROOT,
        )
        try:
            await systemd.wait_for("READY=1")
            status, page = await asyncio.to_thread(get_https, tls_port, tls, "/")
            assert status == 200, nginx.log()
            # WordPress believed X-Forwarded-Proto: its own links are https, none http.
            assert b'href="https://wp.test/' in page
            assert not re.search(rb"http://wp\.test/", page)
            # The uploads in it point at the delivery host, over https.
            assert delivery.encode() in page
            assert b"wp.test/wp-content/uploads/" not in page

            assert await asyncio.to_thread(get_plain, plain_port, "/") == (
                301,
                "https://wp.test/",
            )

            post = wordpress.content["posts"]["everything"]["url"].replace("http:", "https:", 1)
            reports = await visit(
                ["https://wp.test/", post],
                "nginx-tls-front",
                [
                    f"--host-resolver-rules=MAP {HOST}:443 127.0.0.1:{tls_port}",
                    "--ignore-certificate-errors",  # the test's own self-signed certificate
                ],
            )
            for report in reports:
                assert report.status == 200, report.url
                assert report.failed_requests == [], report.url
                assert report.console_errors == [], report.url
                uploads = [i for i in report.images if "/wp-content/uploads/" in i.src]
                assert uploads, f"{report.url} shows no upload image"
                for image in uploads:
                    assert image.current_src.startswith(delivery), (report.url, image)
                    assert image.natural_width > 0, (report.url, image)
                assert not [u for u in report.requested if u.startswith("http:")], report.url

            # The same chain with nginx not among the trusted proxies: rewriteproxy puts
            # its own connection's scheme in X-Forwarded-Proto, and WordPress says http.
            config.write_text(proxy_config(wordpress, proxy_port, delivery, "192.0.2.1/32"))
            proxy.send_signal(signal.SIGHUP)
            await systemd.wait_for("READY=1")
            status, page = await asyncio.to_thread(get_https, tls_port, tls, "/")
            assert status == 200
            assert b'href="http://wp.test/' in page
            assert b'href="https://wp.test/' not in page
        finally:
            if proxy.returncode is None:
                proxy.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(proxy.communicate(), 60)
    assert proxy.returncode == 0, stderr.decode()
    assert b"config reloaded" in stderr
    assert os.path.exists(tmp_path / "access.log")
