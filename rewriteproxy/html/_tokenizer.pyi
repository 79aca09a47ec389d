# The optional C tokenizer (_tokenizer.c); the module's docstring there describes the events.
Hit = tuple[bytes, int, int, str]
Attr = tuple[str, int, int, int, str | None]
Event = tuple[int, int, int, list[Hit], list[Attr] | None] | tuple[int, int, bool]

def scan(
    doc: bytes, marker: bytes, report: tuple[bytes, ...], value_names: frozenset[bytes]
) -> list[Event]: ...
