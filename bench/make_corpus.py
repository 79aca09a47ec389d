"""Build bench/corpus/ from the hand-written WordPress fixture pages.

Pages of about 20 KB, 50 KB, 200 KB and 2 MB: the head and footer of
``tests/fixtures/pages/wp-post-blocks.html`` around as many copies of its post
content as the size needs, each copy's file names numbered so no two URLs are
the same (a real archive page lists different posts). Deterministic: running it
again writes the same bytes.

    python bench/make_corpus.py
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "fixtures" / "pages" / "wp-post-blocks.html"
CORPUS = Path(__file__).resolve().parent / "corpus"
SIZES = {"page-20k.html": 20_000, "page-50k.html": 50_000, "page-200k.html": 200_000,
         "page-2m.html": 2_000_000}
_CONTENT = re.compile(rb'(<div class="entry-content.*?</div>\n\n<div class="wp-block-comments">)',
                      re.DOTALL)
_FILE = re.compile(rb"(/2024/05/)([a-z%0-9-]+?)(-\d+x\d+)?\.(jpg|png|pdf|mp4|mp3)")


def build(size: int) -> bytes:
    page = SOURCE.read_bytes()
    match = _CONTENT.search(page)
    assert match is not None, "the fixture page lost its post content"
    head, block, tail = page[: match.start()], match.group(1), page[match.end() :]
    parts = [head]
    total, copy = len(head) + len(tail), 0
    while total < size:
        numbered = _FILE.sub(lambda m, n=copy: m.group(1) + m.group(2) + b"-%d" % n
                             + (m.group(3) or b"") + b"." + m.group(4), block)
        parts.append(numbered)
        total += len(numbered)
        copy += 1
    parts.append(tail)
    return b"".join(parts)


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    for name, size in SIZES.items():
        data = build(size)
        (CORPUS / name).write_bytes(data)
        print(f"{name}: {len(data):,} bytes")


if __name__ == "__main__":
    main()
