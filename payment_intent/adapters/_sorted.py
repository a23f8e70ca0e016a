"""A sorted list of keys whose inserts and removals cost the same wherever they land.

A plain sorted Python list moves every later item on each insert or delete, so taking a hold out of
the front of a million-item index costs a millisecond. Here the keys live in buckets of at most
``2 * LOAD`` items with a list of each bucket's largest key (the layout of ``sortedcontainers``):
finding a key is two bisections and moving items touches one bucket.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from typing import Any

LOAD = 512


class SortedKeys:
    """Distinct, mutually comparable keys in ascending order."""

    __slots__ = ("_buckets", "_maxes", "_size")

    def __init__(self) -> None:
        self._buckets: list[list[Any]] = []
        self._maxes: list[Any] = []
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, key: Any) -> None:
        """Insert ``key`` in order."""
        self._size += 1
        if not self._buckets:
            self._buckets.append([key])
            self._maxes.append(key)
            return
        index = bisect_left(self._maxes, key)
        if index == len(self._maxes):  # beyond every key: the last bucket grows
            index -= 1
            self._buckets[index].append(key)
            self._maxes[index] = key
        else:
            insort(self._buckets[index], key)
        bucket = self._buckets[index]
        if len(bucket) > 2 * LOAD:
            half = bucket[LOAD:]
            del bucket[LOAD:]
            self._buckets.insert(index + 1, half)
            self._maxes[index] = bucket[-1]
            self._maxes.insert(index + 1, half[-1])

    def remove(self, key: Any) -> None:
        """Take ``key`` out; it must be present."""
        index = bisect_left(self._maxes, key)
        bucket = self._buckets[index] if index < len(self._buckets) else []
        position = bisect_left(bucket, key)
        if position == len(bucket) or bucket[position] != key:
            raise KeyError(key)
        del bucket[position]
        self._size -= 1
        if not bucket:
            del self._buckets[index]
            del self._maxes[index]
        elif position == len(bucket):
            self._maxes[index] = bucket[-1]

    def ascending(self, after: Any = None, *, inclusive: bool = False) -> Iterator[Any]:
        """Keys in ascending order from ``after`` (all keys when it is ``None``)."""
        if after is None:
            index, position = 0, 0
        else:
            index = (bisect_left if inclusive else bisect_right)(self._maxes, after)
            if index == len(self._maxes):
                return
            bucket = self._buckets[index]
            position = (bisect_left if inclusive else bisect_right)(bucket, after)
        buckets = self._buckets
        while index < len(buckets):
            yield from buckets[index][position:]
            index, position = index + 1, 0

    def descending(self, before: Any = None, *, inclusive: bool = False) -> Iterator[Any]:
        """Keys in descending order from ``before`` (all keys when it is ``None``)."""
        buckets = self._buckets
        if not buckets:
            return
        if before is None:
            index, end = len(buckets) - 1, len(buckets[-1])
        else:
            # The first bucket whose largest key reaches ``before`` holds the last keys below it.
            index = bisect_left(self._maxes, before)
            if index == len(buckets):
                index, end = index - 1, len(buckets[-1])
            else:
                end = (bisect_right if inclusive else bisect_left)(buckets[index], before)
        while index >= 0:
            bucket = buckets[index]
            for position in range(end - 1, -1, -1):
                yield bucket[position]
            index -= 1
            if index >= 0:
                end = len(buckets[index])
