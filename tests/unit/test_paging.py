"""Continue tokens and pages (api/paging.py): what a token holds, and what is refused."""

from __future__ import annotations

import base64

import pytest

from ozymandias.api.paging import (
    Cursor,
    InvalidContinue,
    Key,
    decode_token,
    encode_token,
    take_page,
)


@pytest.mark.parametrize(
    ("cursor", "shape"),
    [
        (Cursor(("web",), 7), (str,)),
        (Cursor(("web", 12), 123456789), (str, int)),
        (Cursor(("ünïcode-jöb", 0), 0), (str, int)),
    ],
)
def test_a_token_gives_back_its_cursor(cursor: Cursor, shape: tuple[type, ...]) -> None:
    token = encode_token(cursor)
    assert "=" not in token and "/" not in token and "+" not in token  # safe in a query
    assert decode_token(token, shape) == cursor


def raw(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("token", "shape"),
    [
        pytest.param("not base64!", (str,), id="not base64"),
        pytest.param(raw("{"), (str,), id="not JSON"),
        pytest.param(raw('{"a": 1}'), (str,), id="not a pair"),
        pytest.param(raw('[["web"], 3, 4]'), (str,), id="three parts"),
        pytest.param(raw('["web", 3]'), (str,), id="key not a list"),
        pytest.param(raw('[["web"], 3]'), (str, int), id="a job's key for instances"),
        pytest.param(raw('[["web", true], 3]'), (str, int), id="a boolean index"),
        pytest.param(raw('[["web"], -1]'), (str,), id="negative revision"),
        pytest.param(raw('[["web"], 1.5]'), (str,), id="fractional revision"),
        pytest.param(raw('[["web"], "3"]'), (str,), id="revision a string"),
        pytest.param(base64.urlsafe_b64encode(b"\xff\xfe").decode(), (str,), id="not UTF-8"),
    ],
)
def test_a_token_this_api_did_not_make_is_refused(token: str, shape: tuple[type, ...]) -> None:
    with pytest.raises(InvalidContinue):
        decode_token(token, shape)


ENTRIES: list[tuple[Key, str]] = [((name,), name) for name in "abcde"]


@pytest.mark.parametrize(
    ("limit", "items", "last"),
    [
        (1, ["a"], ("a",)),
        (4, ["a", "b", "c", "d"], ("d",)),
        (5, ["a", "b", "c", "d", "e"], None),  # exactly the rest: the last page
        (9, ["a", "b", "c", "d", "e"], None),
    ],
)
def test_a_page_says_where_the_next_starts_only_if_more_follow(
    limit: int, items: list[str], last: Key | None
) -> None:
    assert take_page(iter(ENTRIES), limit) == (items, last)


def test_no_entries_is_one_empty_last_page() -> None:
    assert take_page(iter([]), 10) == ([], None)
