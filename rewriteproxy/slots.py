"""Who holds the listener's connection slots, and which of them may be taken back.

Each accepted connection holds one :class:`Slot` of a :class:`Slots` table until
it closes, and says what it is doing:

- *silent*: open, and not a byte of a request sent yet (:meth:`Slot.attach`);
- *idle*: kept alive after its answers, not a byte of the next request yet
  (:meth:`Slot.idle`);
- *busy*: a request begun, being handled or being answered (:meth:`Slot.busy`).

At a cap the listener takes a slot back instead of turning the newcomer away:
:meth:`Slots.reclaim_any` closes the connection idle longest, or if none is idle
the one silent longest. An idle connection's client has had its answers and opens
another when it needs one; a silent one may be a browser's spare connection about
to carry a first request, so it goes second. :meth:`Slots.reclaim_from` does the
same among one peer's connections, for the per-peer cap. Busy connections are
never taken back.

Peers are counted by :func:`peer_key`: an IPv4 address, or an IPv6 address's /64
(one host or household gets a whole /64, so counting addresses would not bound it).

Every operation is O(1): the queues are insertion-ordered dicts, oldest first.
The table knows nothing of sockets; a connection only has to be
:class:`Reclaimable`.
"""

from __future__ import annotations

from collections.abc import Callable
from ipaddress import IPv6Address
from typing import Protocol

__all__ = ["Reclaimable", "Slot", "Slots", "peer_key"]


class Reclaimable(Protocol):
    def reclaim(self) -> None:
        """Close now, to make room; the connection's slot is already given back."""


def peer_key(address: str) -> str:
    """What the per-peer count is kept by: the IPv4 address, or the IPv6 address's /64."""
    if ":" not in address:
        return address
    try:
        ip = IPv6Address(address.split("%", 1)[0])
    except ValueError:
        return address
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return f"{IPv6Address(int(ip) >> 64 << 64)}/64"


class _Peer:
    """One peer's count and its own queues (a subset of the table's)."""

    __slots__ = ("held", "idle", "silent")

    def __init__(self) -> None:
        self.held = 0
        self.idle: dict[Slot, None] = {}
        self.silent: dict[Slot, None] = {}


class Slot:
    """One connection's place in the table; given back once, however the connection ends."""

    __slots__ = ("_connection", "_key", "_peer", "_queue", "_table")

    def __init__(self, table: Slots, key: str, peer: _Peer) -> None:
        self._table: Slots | None = table
        self._key = key
        self._peer = peer
        self._connection: Reclaimable | None = None
        self._queue: str | None = None  # "idle", "silent", or None: busy or not attached

    @property
    def peer(self) -> str:
        return self._key

    def attach(self, connection: Reclaimable) -> None:
        """The connection is set up and has sent nothing: silent."""
        self._connection = connection
        self._enqueue("silent")

    def idle(self) -> None:
        """Its answers are out and nothing of a next request has come: idle."""
        if self._connection is not None:
            self._enqueue("idle")

    def busy(self) -> None:
        """A request has begun: not to be taken back."""
        self._dequeue()

    def release(self) -> None:
        table = self._table
        if table is None:
            return
        self._dequeue()
        self._table = self._connection = None
        table._given_back(self._key, self._peer)

    def _enqueue(self, queue: str) -> None:
        table = self._table
        if table is None or self._queue == queue:
            return
        self._dequeue()
        self._queue = queue
        if queue == "idle":
            table._idle[self] = None
            self._peer.idle[self] = None
        else:
            table._silent[self] = None
            self._peer.silent[self] = None
        table._on_room()

    def _dequeue(self) -> None:
        queue, self._queue = self._queue, None
        table = self._table
        if queue is None or table is None:
            return
        if queue == "idle":
            del table._idle[self], self._peer.idle[self]
        else:
            del table._silent[self], self._peer.silent[self]

    def _reclaim(self) -> None:
        connection = self._connection
        self.release()
        if connection is not None:
            connection.reclaim()


class Slots:
    """The slots of one listener. ``on_room`` is called when one is given back or becomes
    reclaimable, so that a listener that stopped accepting may start again."""

    def __init__(self, on_room: Callable[[], None]) -> None:
        self._on_room = on_room
        self._open = 0
        self._peers: dict[str, _Peer] = {}
        self._idle: dict[Slot, None] = {}
        self._silent: dict[Slot, None] = {}

    @property
    def open(self) -> int:
        return self._open

    @property
    def reclaimable(self) -> bool:
        return bool(self._idle or self._silent)

    def held_by(self, key: str) -> int:
        peer = self._peers.get(key)
        return peer.held if peer is not None else 0

    def take(self, key: str) -> Slot:
        peer = self._peers.get(key)
        if peer is None:
            peer = self._peers[key] = _Peer()
        peer.held += 1
        self._open += 1
        return Slot(self, key, peer)

    def reclaim_any(self) -> str | None:
        """Close the connection idle longest, else the one silent longest: which it was."""
        return _reclaim_first(self._idle, self._silent)

    def reclaim_from(self, key: str) -> str | None:
        """The same among the connections of peer ``key`` only."""
        peer = self._peers.get(key)
        return None if peer is None else _reclaim_first(peer.idle, peer.silent)

    def _given_back(self, key: str, peer: _Peer) -> None:
        self._open -= 1
        peer.held -= 1
        if not peer.held:
            del self._peers[key]
        self._on_room()


def _reclaim_first(idle: dict[Slot, None], silent: dict[Slot, None]) -> str | None:
    for queue, name in ((idle, "idle"), (silent, "silent")):
        if queue:
            next(iter(queue))._reclaim()
            return name
    return None
