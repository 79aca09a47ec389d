"""sd_notify, sent to a real unix datagram socket as systemd would hold it."""

from __future__ import annotations

from pathlib import Path

from rewriteproxy.notify import READY, RELOADING, STOPPING, notify

from .support.notifysocket import NotifySocket


async def test_a_message_reaches_a_socket_in_the_abstract_namespace() -> None:
    with NotifySocket() as systemd:
        assert systemd.address.startswith("@")
        assert notify(READY, environ={"NOTIFY_SOCKET": systemd.address})
        assert await systemd.receive() == "READY=1"


async def test_a_message_reaches_a_socket_on_a_path(tmp_path: Path) -> None:
    with NotifySocket(tmp_path) as systemd:
        assert notify(RELOADING, "STATUS=reloading", environ={"NOTIFY_SOCKET": systemd.address})
        assert await systemd.receive() == "RELOADING=1\nSTATUS=reloading"
        assert notify(STOPPING, environ={"NOTIFY_SOCKET": systemd.address})
        assert await systemd.receive() == "STOPPING=1"


def test_without_notify_socket_nothing_is_sent() -> None:
    assert not notify(READY, environ={})
    assert not notify(READY, environ={"NOTIFY_SOCKET": ""})


def test_a_socket_that_is_gone_is_not_an_error(tmp_path: Path) -> None:
    assert not notify(READY, environ={"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})


def test_a_kind_of_socket_it_does_not_speak_is_ignored() -> None:
    assert not notify(READY, environ={"NOTIFY_SOCKET": "vsock:2:1234"})
