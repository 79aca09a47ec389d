# The optional C fast path for plain URL and srcset values (_values.c describes it).
from collections.abc import Callable

from rewriteproxy.html._tokenizer import Event

def plain_tags(
    doc: bytes,
    events: list[Event],
    tag_kinds: dict[bytes, dict[bytes, int]],
    any_tag: dict[bytes, int],
    known: tuple[dict[str, bytes | None], ...],
    mapped: dict[str, str | None],
    map_url: Callable[[str], str | None],
    encoding: str,
    edits: list[tuple[int, int, bytes]],
) -> list[Event]: ...
def splice(doc: bytes, edits: list[tuple[int, int, bytes]]) -> bytes: ...
def find_ci(doc: bytes, needle: bytes, start: int, end: int) -> int: ...
