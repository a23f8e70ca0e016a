"""What every service method shares at its edge: pages of results, and the store's failures as the
API's typed errors."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar

from payment_intent.domain.errors import InvalidRequestError, StorageUnavailableError
from payment_intent.ports import DataError, OperationalError

T = TypeVar("T")
P = ParamSpec("P")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: ``data`` in the list's order, and whether more lie beyond it."""

    data: list[T]
    has_more: bool

    def __iter__(self) -> Iterator[T]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def storage_errors(method: Callable[P, T]) -> Callable[P, T]:
    """The store's failures as the API's typed errors: retryable when the database failed."""

    @functools.wraps(method)
    def translated(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(*args, **kwargs)
        except OperationalError as error:
            raise StorageUnavailableError(
                "The payment_intent store is unavailable right now; nothing was changed by this "
                "request. Retry it.",
                code="storage_unavailable",
            ) from error
        except DataError as error:
            raise InvalidRequestError(
                f"A value of this request cannot be stored: {error}",
                code="parameter_invalid",
            ) from error

    return translated


def given(unknown: dict[str, Any], **params: Any) -> dict[str, Any]:
    """The parameters the caller actually passed (``None`` means absent), unknown ones included."""
    passed = {name: value for name, value in params.items() if value is not None}
    passed.update(unknown)
    return passed
