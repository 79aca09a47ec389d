# The optional C tokenizer (_tokenizer.c); the module's docstring there describes the events.
from typing import overload

Hit = tuple[bytes, int, int, str]
Attr = tuple[str, int, int, int, str | None]
Event = tuple[int, int, int, list[Hit], list[Attr] | None] | tuple[int, int, bool]

@overload
def scan(
    doc: bytes, marker: bytes, report: tuple[bytes, ...], value_names: frozenset[bytes]
) -> list[Event]: ...
@overload
def scan(
    doc: bytes,
    marker: bytes,
    report: tuple[bytes, ...],
    value_names: frozenset[bytes],
    start: int,
    limit: int,
) -> tuple[list[Event], int]: ...
