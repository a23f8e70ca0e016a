"""The in-memory store's bucketed sorted index behaves exactly like a sorted list."""

from __future__ import annotations

from itertools import islice

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_intent.adapters import _sorted
from payment_intent.adapters._sorted import SortedKeys

operations = st.lists(
    st.tuples(st.sampled_from(["add", "remove"]), st.integers(0, 400)), max_size=600
)


@pytest.fixture(autouse=True)
def small_buckets(monkeypatch: pytest.MonkeyPatch) -> None:
    # Buckets of a few keys, so that a few hundred keys split and empty many of them.
    monkeypatch.setattr(_sorted, "LOAD", 4)


@given(operations, st.integers(-1, 401), st.booleans(), st.integers(0, 50))
def test_matches_a_sorted_list(
    ops: list[tuple[str, int]], bound: int, inclusive: bool, limit: int
) -> None:
    keys = SortedKeys()
    model: list[int] = []
    for op, key in ops:
        if op == "add" and key not in model:
            keys.add(key)
            model.append(key)
            model.sort()
        elif op == "remove":
            if key in model:
                keys.remove(key)
                model.remove(key)
            else:
                with pytest.raises(KeyError):
                    keys.remove(key)
    assert len(keys) == len(model)
    assert list(keys.ascending()) == model
    assert list(keys.descending()) == model[::-1]
    above = [k for k in model if (k >= bound if inclusive else k > bound)]
    below = [k for k in reversed(model) if (k <= bound if inclusive else k < bound)]
    assert list(islice(keys.ascending(bound, inclusive=inclusive), limit)) == above[:limit]
    assert list(islice(keys.descending(bound, inclusive=inclusive), limit)) == below[:limit]
