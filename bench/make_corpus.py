"""Build bench/corpus/ from the hand-written WordPress fixture pages.

Two families of pages of about 20 KB, 50 KB, 200 KB and 2 MB, each the head
and footer of a hand-written WordPress 6.x page from tests/fixtures/pages around
as many copies of its post content as the size needs, each copy's file names
numbered so no two URLs are the same (as on an archive page). "gallery" is an
image-heavy post (about one upload URL per 180 bytes), "blog" a typical text
post with a block theme's inline CSS and scripts (about one per 650 bytes).
Deterministic: running it again writes the same bytes.

    python bench/make_corpus.py
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "tests" / "fixtures" / "pages"
CORPUS = Path(__file__).resolve().parent / "corpus"
SIZES = {"20k": 20_000, "50k": 50_000, "200k": 200_000, "2m": 2_000_000}
# family → (source page, the post content that is repeated to reach a size)
FAMILIES = {
    # an image-heavy post: gallery, covers, media-text, video, audio, file blocks
    "gallery": (
        "wp-post-blocks.html",
        rb'(<div class="entry-content.*?</div>\n\n<div class="wp-block-comments">)',
    ),
    # a typical text post in a block theme: inline CSS and scripts, two images
    "blog": (
        "wp-blog-post.html",
        rb'(<div class="entry-content.*?</div>\n)<div class="wp-block-group',
    ),
}
_FILE = re.compile(rb"(/20\d\d/\d\d/)([a-z%0-9-]+?)(-\d+x\d+)?\.(jpg|png|pdf|mp4|mp3)")


def build(size: int, family: str = "gallery") -> bytes:
    source, content = FAMILIES[family]
    page = (PAGES / source).read_bytes()
    match = re.search(content, page, re.DOTALL)
    assert match is not None, f"{source} lost its post content"
    head, block, tail = page[: match.start(1)], match.group(1), page[match.end(1) :]
    parts = [head]
    total, copy = len(head) + len(tail), 0
    while total < size:
        numbered = _FILE.sub(
            lambda m, n=copy: (
                m.group(1) + m.group(2) + b"-%d" % n + (m.group(3) or b"") + b"." + m.group(4)
            ),
            block,
        )
        parts.append(numbered)
        total += len(numbered)
        copy += 1
    parts.append(tail)
    return b"".join(parts)


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    for old in CORPUS.glob("*.html"):
        old.unlink()
    for family in FAMILIES:
        for label, size in SIZES.items():
            data = build(size, family)
            name = f"{family}-{label}.html"
            (CORPUS / name).write_bytes(data)
            print(f"{name}: {len(data):,} bytes")


if __name__ == "__main__":
    main()
