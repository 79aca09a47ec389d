"""Telling systemd how the service is doing: the ``sd_notify`` protocol, with the stdlib.

Under ``Type=notify`` systemd passes a socket in ``NOTIFY_SOCKET`` and waits for
``READY=1`` before it counts the service as started (and before units ordered
after it start). :func:`notify` sends one datagram of ``KEY=value`` lines to
that socket: ``READY=1`` once the proxy listens, ``RELOADING=1`` when a SIGHUP
reload begins (``READY=1`` again when it is done) and ``STOPPING=1`` when
shutdown begins.

The address is a filesystem path, or a name in Linux's abstract namespace
written with a leading ``@`` (which stands for the NUL byte). Without
``NOTIFY_SOCKET`` (not run by systemd, or ``Type=exec``) nothing is sent. A
failure to send is logged at debug level and ignored: telling systemd must
never stop the proxy from serving. Other socket kinds systemd may pass
(``vsock:``) are not supported and are ignored the same way.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

__all__ = ["READY", "RELOADING", "STOPPING", "notify"]

log = logging.getLogger("rewriteproxy.notify")

READY = "READY=1"
RELOADING = "RELOADING=1"
STOPPING = "STOPPING=1"


def notify(*lines: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``lines`` (``KEY=value`` each) to systemd; ``False`` if nothing was sent."""
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if address.startswith("@"):
        address = "\0" + address[1:]
    elif not address.startswith("/"):
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(lines).encode())
    except OSError as exc:
        log.debug("could not notify systemd at %r: %s", address, exc)
        return False
    return True
