"""decode_form reads exactly what urllib.parse.parse_qsl reads, bracket nesting on top."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payment_intent.dialects.forms import MAX_FIELDS, decode_form
from payment_intent.domain.errors import InvalidRequestError


def _reference(text: str) -> dict[str, Any]:
    """The flat reading parse_qsl gives, for forms with no brackets (last value wins)."""
    return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS))


# Names and values as clients write them: plain words, percent escapes (also broken ones), '+'.
_piece = st.text(alphabet="ab_-.~+=%20é ;", max_size=8)
_fields = st.lists(st.tuples(_piece.filter(lambda n: "=" not in n), _piece), max_size=6)


@settings(max_examples=300, deadline=None)
@given(fields=_fields, separators=st.lists(st.sampled_from(["&", "&&"]), min_size=6, max_size=6))
def test_flat_forms_read_as_parse_qsl_reads_them(
    fields: list[tuple[str, str]], separators: list[str]
) -> None:
    text = "".join(
        f"{name}={value}{separators[index]}" for index, (name, value) in enumerate(fields)
    )
    assert decode_form(text) == _reference(text)
    assert decode_form(text.encode("utf-8")) == _reference(text)


@pytest.mark.parametrize(
    "text",
    ["", "&", "a", "a=", "=b", "a=1&a=2", "a+b=c+d", "a=%zz", "a=%e2%82%ac&b=%ff"],
)
def test_edge_cases_read_as_parse_qsl_reads_them(text: str) -> None:
    assert decode_form(text) == _reference(text)


def test_escaped_brackets_nest_like_literal_ones() -> None:
    assert decode_form("metadata%5Bperiod%5D=2025-02") == {"metadata": {"period": "2025-02"}}


def test_a_value_where_a_hash_was_is_refused_naming_it() -> None:
    with pytest.raises(InvalidRequestError) as refused:
        decode_form("metadata[a]=1&metadata=2")
    assert refused.value.param == "metadata"


def test_the_field_limit_counts_every_separator() -> None:
    assert len(decode_form("&".join(f"k{i}=v" for i in range(MAX_FIELDS)))) == MAX_FIELDS
    with pytest.raises(InvalidRequestError, match="at most 1000 parameters"):
        decode_form("&".join(f"k{i}=v" for i in range(MAX_FIELDS + 1)))
