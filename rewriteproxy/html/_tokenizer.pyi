# The optional C tokenizer (_tokenizer.c); the module's docstring there describes the events.
def scan(
    doc: bytes, marker: bytes, report: tuple[bytes, ...], value_names: frozenset[bytes]
) -> list[tuple[int, int, int, list[tuple[bytes, int, int, str]]] | tuple[int, int, bool]]: ...
