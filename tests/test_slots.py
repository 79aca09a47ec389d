"""The slot table: which connection is taken back at a cap, and who is counted as one peer."""

from __future__ import annotations

from rewriteproxy.slots import Slot, Slots, peer_key


class Connection:
    """What the table needs of a connection: ``reclaim``; this one only records the call."""

    def __init__(self, slot: Slot) -> None:
        self.slot = slot
        self.reclaimed = False

    def reclaim(self) -> None:
        self.reclaimed = True
        RECLAIMED.append(self)


RECLAIMED: list[Connection] = []


def _attached(slots: Slots, peer: str = "192.0.2.1") -> Connection:
    connection = Connection(slots.take(peer))
    connection.slot.attach(connection)
    return connection


def test_idle_ones_go_first_oldest_first_then_silent_ones_oldest_first():
    slots = Slots(lambda: None)
    silent = [_attached(slots) for _ in range(2)]
    idle = [_attached(slots) for _ in range(2)]
    for connection in reversed(idle):  # the second became idle first
        connection.slot.busy()
        connection.slot.idle()
    RECLAIMED.clear()
    order = [slots.reclaim_any() for _ in range(5)]
    assert order == ["idle", "idle", "silent", "silent", None]
    assert [idle[1], idle[0], silent[0], silent[1]] == RECLAIMED
    assert slots.open == 0


def test_a_busy_connection_is_never_taken_back_and_its_slot_is_given_back_once():
    slots = Slots(lambda: None)
    busy = _attached(slots)
    busy.slot.busy()
    assert not slots.reclaimable
    assert slots.reclaim_any() is None
    assert not busy.reclaimed
    busy.slot.release()
    busy.slot.release()
    assert slots.open == 0


def test_a_peer_makes_room_only_among_its_own():
    slots = Slots(lambda: None)
    other = _attached(slots, "192.0.2.9")
    own = _attached(slots, "192.0.2.1")
    own.slot.busy()
    assert slots.held_by("192.0.2.1") == 1
    assert slots.reclaim_from("192.0.2.1") is None  # its only one is busy
    assert slots.reclaim_from("198.51.100.1") is None  # holds nothing
    assert not other.reclaimed
    own.slot.idle()
    assert slots.reclaim_from("192.0.2.1") == "idle"
    assert own.reclaimed and not other.reclaimed
    assert slots.held_by("192.0.2.1") == 0


def test_room_is_announced_when_a_slot_is_given_back_or_can_be_taken_back():
    announced = []
    slots = Slots(lambda: announced.append(slots.open))
    connection = Connection(slots.take("192.0.2.1"))
    assert announced == []
    connection.slot.attach(connection)  # silent
    connection.slot.busy()
    connection.slot.idle()
    connection.slot.release()
    assert announced == [1, 1, 0]


def test_peers_are_addresses_and_ipv6_ones_their_64():
    assert peer_key("192.0.2.1") == "192.0.2.1"
    assert (
        peer_key("2001:db8:1:2:aaaa::1") == peer_key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    )
    assert peer_key("2001:db8:1:3::1") != peer_key("2001:db8:1:2::1")
    assert peer_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert peer_key("fe80::1%eth0") == "fe80::/64"
    assert peer_key("") == ""
