"""Content codings: what the proxy can read, it can write back the same way."""

from __future__ import annotations

import gzip
import zlib

import pytest

from rewriteproxy.http.codings import SUPPORTED, CodingError, decode, encode, narrow_accept_encoding

DOC = b"<html>" + b"caf\xc3\xa9 " * 1000 + b"</html>"


@pytest.mark.parametrize("coding", [*SUPPORTED, "x-gzip", "gzip, br", ""])
def test_every_supported_coding_round_trips(coding):
    assert decode(encode(DOC, coding), coding) == DOC


def test_raw_deflate_is_accepted_as_servers_send_it():
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    data = raw.compress(DOC) + raw.flush()
    assert decode(data, "deflate") == DOC


@pytest.mark.parametrize(
    ("coding", "data"),
    [
        ("gzip", gzip.compress(DOC)[:-20]),
        ("br", b"not brotli"),
        ("compress", b"whatever"),
    ],
)
def test_corrupt_or_unknown_codings_raise_coding_error(coding, data):
    with pytest.raises(CodingError):
        decode(data, coding)


@pytest.mark.parametrize("coding", SUPPORTED)
def test_a_body_cut_short_is_corrupt_not_a_shorter_page(coding):
    sent = encode(DOC, coding)
    for cut in (1, 3, len(sent) // 2):
        with pytest.raises(CodingError):
            decode(sent[:-cut], coding)


@pytest.mark.parametrize("coding", ["gzip", "zstd"])
def test_a_body_of_several_members_decodes_whole(coding):
    """gzip members and zstd frames may follow one another within one body (RFC 1952,
    RFC 8878); a page must not lose its end because only the first was read."""
    first, second = DOC[:3000], DOC[3000:]
    sent = encode(first, coding) + encode(second, coding)
    assert decode(sent, coding) == DOC
    with pytest.raises(CodingError):
        decode(sent[:-2], coding)
    with pytest.raises(CodingError, match="more than"):
        decode(sent, coding, limit=len(DOC) - 1)


def test_bytes_after_a_gzip_member_that_are_no_member_make_the_body_corrupt():
    with pytest.raises(CodingError):
        decode(gzip.compress(DOC) + b"trailing junk", "gzip")


@pytest.mark.parametrize("coding", [*SUPPORTED, "gzip, br"])
def test_a_body_decoding_past_the_limit_is_refused(coding):
    sent = encode(DOC, coding)
    assert decode(sent, coding, limit=len(DOC)) == DOC
    with pytest.raises(CodingError, match="more than"):
        decode(sent, coding, limit=len(DOC) - 1)


@pytest.mark.parametrize("coding", SUPPORTED)
def test_a_small_body_that_unpacks_to_gigabytes_is_refused_without_unpacking_it(coding):
    bomb = encode(b"\0" * (256 * 1024 * 1024), coding)  # about 256 KB compressed, or less
    assert len(bomb) < 300_000
    with pytest.raises(CodingError, match="more than"):
        decode(bomb, coding, limit=8 * 1024 * 1024)


@pytest.mark.parametrize(
    ("accept", "narrowed"),
    [
        (None, "identity"),
        ("gzip, deflate, br", "gzip, deflate, br"),
        ("gzip;q=1.0, identity; q=0.5, *;q=0", "gzip;q=1.0"),
        ("sdch, compress", "identity"),
        ("br;q=0, gzip", "gzip"),
        ("*", ", ".join(SUPPORTED)),
    ],
)
def test_accept_encoding_is_narrowed_to_what_the_proxy_decodes(accept, narrowed):
    assert narrow_accept_encoding(accept) == narrowed
