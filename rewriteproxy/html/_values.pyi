# The optional C fast path for plain URL and srcset values (_values.c describes it).
from collections.abc import Callable

Hit = tuple[bytes, int, int, str]

def plain_edits(
    doc: bytes,
    hits: list[Hit],
    kinds: dict[bytes, int],
    known: tuple[dict[str, bytes | None], ...],
    fill: Callable[[str, str, bool], bytes | None],
    edits: list[tuple[int, int, bytes]],
) -> list[Hit]: ...
