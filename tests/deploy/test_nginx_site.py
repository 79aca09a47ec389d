"""conf/deploy: the nginx site, rewriteproxy.yaml and the wp-config lines fit each other.

nginx's own ``nginx -t`` checks the site (with only its addresses and paths
replaced, tests/support/nginxfront.py); tests/e2e/test_nginx_tls_front.py runs it
in front of the proxy and a real WordPress.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from ipaddress import ip_address
from pathlib import Path

import pytest

from rewriteproxy.config import load_config
from rewriteproxy.http.headers import CLIENT_CLAIMS

from ..support.net import free_port
from ..support.nginxfront import NGINX, SITE, check_config, main_config, self_signed, site_config

PROXY_CONFIG = SITE.parent / "rewriteproxy.yaml"
SNIPPET = SITE.parent / "wordpress-https.php"
SET_HEADER = re.compile(r"^\s*proxy_set_header\s+(\S+)\s+(.+?);", re.MULTILINE)


def test_nginx_accepts_the_site(tmp_path: Path) -> None:
    if not Path(NGINX).exists():
        pytest.skip("Debian's nginx is not installed (tests/e2e/wordpress/install-packages.sh)")
    site = site_config(
        tls_port=free_port(),
        plain_port=free_port(),
        rewriteproxy_port=free_port(),
        server_name="wp.test",
        tls=self_signed(tmp_path, ("wp.test",)),
    )
    done = check_config(tmp_path, main_config(tmp_path, site))
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr


def test_every_claim_a_client_could_make_is_nginx_s_word_or_removed() -> None:
    # rewriteproxy passes these on from a trusted proxy as they came; nginx must not
    # let a client's own copy through.
    headers = {name.lower(): value for name, value in SET_HEADER.findall(SITE.read_text())}
    assert set(CLIENT_CLAIMS) <= set(headers), sorted(set(CLIENT_CLAIMS) - set(headers))
    assert headers["x-forwarded-proto"] == "$scheme"
    assert headers["x-forwarded-for"] == "$remote_addr"  # not appended to the client's list
    assert headers["host"] == "$host"


def test_rewriteproxy_listens_where_nginx_sends_and_trusts_it() -> None:
    config = load_config(PROXY_CONFIG)
    (upstream,) = re.findall(r"^\s*server\s+(\S+);", SITE.read_text(), re.MULTILINE)
    host, port = upstream.rsplit(":", 1)
    assert (config.listen.host, config.listen.port) == (host, int(port))
    assert config.proxy.trusted_proxies.trusts(host)  # nginx connects from loopback
    assert not config.proxy.trusted_proxies.trusts("192.0.2.1")
    assert ip_address(host).is_loopback
    assert config.site.scheme == "https"
    assert config.server.shutdown_timeout == 30


@pytest.mark.parametrize(("proto", "https"), [("https", "on"), ("http", "off"), (None, "off")])
def test_wordpress_believes_the_forwarded_scheme(proto: str | None, https: str) -> None:
    php = shutil.which("php")
    if php is None:
        pytest.skip("PHP is not installed (tests/e2e/wordpress/install-packages.sh)")
    env = {k: v for k, v in os.environ.items() if k != "HTTP_X_FORWARDED_PROTO"}
    if proto is not None:
        env["HTTP_X_FORWARDED_PROTO"] = proto  # php-cli's $_SERVER holds the environment
    done = subprocess.run(
        [php, "-r", f"include '{SNIPPET}'; echo $_SERVER['HTTPS'] ?? 'off';"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, https), done.stderr
