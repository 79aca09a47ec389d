"""The YAML file is the user contract: documented keys work, anything else is a clear error."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from rewriteproxy.config import ConfigError, load_config, parse_config

MINIMAL = """
upstream: http://127.0.0.1:8080
site:
  hosts: [wp.test]
"""


def test_the_documented_example_loads():
    config = parse_config(
        """
upstream: http://127.0.0.1:8080          # the WordPress origin
listen: {host: 127.0.0.1, port: 8000}
enabled: true
site:
  hosts: [wp.test, www.wp.test, old.wp.test]
  uploads_path: /wp-content/uploads/
delivery:
  provider: cdn
  cdn:
    base_url: https://cdn.example.net/wp-content/uploads/
"""
    )
    assert config.upstream == "http://127.0.0.1:8080"
    assert (config.listen.host, config.listen.port) == ("127.0.0.1", 8000)
    assert config.enabled is True
    assert config.site.hosts == ("wp.test", "www.wp.test", "old.wp.test")
    assert config.site.canonical_host == "wp.test"
    assert config.site.uploads_path == "/wp-content/uploads/"


def test_defaults_for_everything_optional():
    config = parse_config(MINIMAL)
    assert config.enabled is True
    assert config.listen.port == 8000
    assert config.bypass.paths == ("/wp-admin/", "/wp-login.php", "/xmlrpc.php", "/wp-cron.php")
    assert config.bypass.logged_in_cookie == "wordpress_logged_in_"
    assert (config.bypass.authorization, config.bypass.nonce, config.bypass.edit_context) == (
        True,
        True,
        True,
    )
    assert config.bypass.identifiers == ("guid",)
    assert config.proxy.max_rewrite_bytes == 8 * 1024 * 1024
    assert config.proxy.upstream_connections == 256
    assert config.proxy.trusted_proxies.networks == (
        ip_network("127.0.0.1/32"),
        ip_network("::1/128"),
    )
    assert config.server.header_timeout == 30.0
    assert config.server.keepalive_timeout == 75.0
    assert config.server.max_connections == 0  # derived from the file-descriptor limit
    assert config.server.max_connections_per_ip == 1024
    assert config.server.shutdown_timeout == 30.0


def test_server_keys():
    config = parse_config(
        MINIMAL + "server: {header_timeout: 10, keepalive_timeout: 620, max_connections: 4000}\n"
    )
    assert config.server.header_timeout == 10.0
    assert config.server.keepalive_timeout == 620.0
    assert config.server.max_connections == 4000
    assert parse_config(MINIMAL + "server: {max_connections: null}\n").server.max_connections == 0
    per_ip = parse_config(MINIMAL + "server: {max_connections_per_ip: 0}\n").server
    assert per_ip.max_connections_per_ip == 0  # no cap
    assert parse_config(MINIMAL + "server: {shutdown_timeout: 5}\n").server.shutdown_timeout == 5.0


def test_body_limits_and_buffers_have_defaults():
    proxy = parse_config(MINIMAL).proxy
    assert (proxy.send_timeout, proxy.client_body_timeout) == (60.0, 60.0)
    assert proxy.max_body_bytes == 1024**3
    assert proxy.body_buffer_bytes == 1024**2
    assert proxy.body_buffers_total_bytes == 64 * 1024**2
    assert proxy.temp_files_total_bytes == 1024**3
    assert proxy.temp_dir is None  # the system's temporary directory


def test_body_limits_and_buffers_are_configurable(tmp_path):
    proxy = parse_config(
        MINIMAL
        + f"""proxy:
  send_timeout: 5
  client_body_timeout: 2.5
  max_body_bytes: 1000
  body_buffer_bytes: 0
  body_buffers_total_bytes: 4096
  temp_files_total_bytes: 0
  temp_dir: {tmp_path}
"""
    ).proxy
    assert (proxy.send_timeout, proxy.client_body_timeout) == (5.0, 2.5)
    assert (proxy.max_body_bytes, proxy.body_buffer_bytes) == (1000, 0)
    assert (proxy.body_buffers_total_bytes, proxy.temp_files_total_bytes) == (4096, 0)
    assert proxy.temp_dir == str(tmp_path)


def test_uploads_path_is_normalised():
    config = parse_config(MINIMAL.replace("[wp.test]", "[WP.test]\n  uploads_path: /media"))
    assert config.site.uploads_path == "/media/"
    assert config.site.hosts == ("wp.test",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("site: {hosts: [wp.test]}", "upstream: is required"),
        ("upstream: ftp://x\nsite: {hosts: [a]}", "upstream (line 1): 'ftp://x' is not allowed"),
        (
            MINIMAL + "enabled: maybe\n",
            "enabled (line 5): 'maybe' is not allowed: expected true or false",
        ),
        (
            MINIMAL + "listen: {port: 70000}\n",
            "listen.port (line 5): 70000 is not allowed: expected at most 65535",
        ),
        (MINIMAL + "listn: {}\n", "listn (line 5): unknown key"),
        (
            MINIMAL + "proxy: {upstream_connections: 0}\n",
            "proxy.upstream_connections (line 5): 0 is not allowed: expected at least 1",
        ),
        (
            MINIMAL + "proxy: {trusted_proxies: [10.0.0.1/8]}\n",
            "proxy.trusted_proxies (line 5): '10.0.0.1/8' is not allowed: expected an IP address "
            "or a network such as 10.0.0.0/8 or fd00::/8 (10.0.0.1/8 has host bits set)",
        ),
        (MINIMAL + "proxy: {trusted_proxies: [nginx]}\n", "'nginx' is not allowed"),
        (MINIMAL + "proxy: {trusted_proxies: {a: 1}}\n", "expected a list of strings"),
        (
            MINIMAL + "server: {header_timeout: 0}\n",
            "server.header_timeout (line 5): 0 is not allowed: expected at least 0.05",
        ),
        (
            MINIMAL + "server: {keepalive_timeout: -1}\n",
            "server.keepalive_timeout (line 5): -1 is not allowed: expected at least 0.05",
        ),
        (
            MINIMAL + "server: {max_connections: -5}\n",
            "server.max_connections (line 5): -5 is not allowed: expected at least 0",
        ),
        (
            MINIMAL + "server: {max_connections_per_ip: -1}\n",
            "server.max_connections_per_ip (line 5): -1 is not allowed: expected at least 0",
        ),
        (MINIMAL + "server: {read_timeout: 5}\n", "server.read_timeout (line 5): unknown key"),
        (
            MINIMAL + "proxy: {send_timeout: 0}\n",
            "proxy.send_timeout (line 5): 0 is not allowed: expected at least 0.01",
        ),
        (
            MINIMAL + "proxy: {client_body_timeout: -1}\n",
            "proxy.client_body_timeout (line 5): -1 is not allowed",
        ),
        (
            MINIMAL + "proxy: {max_body_bytes: -1}\n",
            "proxy.max_body_bytes (line 5): -1 is not allowed: expected at least 0",
        ),
        (
            MINIMAL + "proxy: {temp_dir: /no/such/directory}\n",
            "proxy.temp_dir (line 5): '/no/such/directory' is not allowed: expected an existing",
        ),
        ("upstream: http://x\nsite: {hosts: []}", "site.hosts (line 2): is required"),
        ("upstream: http://x\nsite: {hosts: ['https://wp.test/']}", "expected a bare host name"),
        (
            "upstream: http://x\nsite: {hosts: [a], uploads_path: uploads}",
            "expected a path starting with /",
        ),
        (
            MINIMAL + "bypass: {identifiers: ['a b']}\n",
            "bypass.identifiers (line 5): 'a b' is not allowed: expected a JSON key",
        ),
        (
            MINIMAL + "bypass: {nonce: sometimes}\n",
            "bypass.nonce (line 5): 'sometimes' is not allowed: expected true or false",
        ),
        ("upstream: [http://x", "not valid YAML"),
        ("- a list", "expected a mapping of keys at the top level"),
    ],
)
def test_errors_name_the_key_the_value_and_the_line(text, message):
    with pytest.raises(ConfigError) as error:
        parse_config(text)
    assert message in str(error.value)


def test_secrets_come_from_the_environment():
    text = MINIMAL + "upstream_note: x\n"
    with pytest.raises(ConfigError):
        parse_config(text)  # (unknown key, to show strictness)
    config = parse_config(
        "upstream: ${ORIGIN}\nsite: {hosts: ['${HOST:-wp.test}']}\n",
        environ={"ORIGIN": "http://10.0.0.5:8080"},
    )
    assert config.upstream == "http://10.0.0.5:8080"
    assert config.site.hosts == ("wp.test",)


def test_a_missing_environment_variable_is_named():
    with pytest.raises(ConfigError, match="environment variable ORIGIN is not set"):
        parse_config("upstream: ${ORIGIN}\nsite: {hosts: [a]}\n", environ={})


def test_load_config_names_an_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "missing.yaml")


def test_trusted_proxies_are_networks_parsed_once():
    config = parse_config(
        MINIMAL + "proxy:\n  trusted_proxies: [10.0.0.0/8, 192.168.1.5, 'fd00::/8']\n"
    )
    trusted = config.proxy.trusted_proxies
    assert trusted.networks == (
        ip_network("10.0.0.0/8"),
        ip_network("192.168.1.5/32"),
        ip_network("fd00::/8"),
    )
    assert trusted.trusts("10.9.8.7") and trusted.trusts("192.168.1.5")
    assert not trusted.trusts("127.0.0.1")
    assert (
        parse_config(MINIMAL + "proxy: {trusted_proxies: []}\n").proxy.trusted_proxies.networks
        == ()
    )
