"""Stripe's API versions, as the CasaPay dialect reads the ``Stripe-Version`` header.

The official SDKs send the version they were generated for on every request, and Stripe answers in
that version's shapes. Two changes matter to a PaymentIntent here:

* ``2022-11-15`` removed the ``charges`` list from the PaymentIntent and added ``latest_charge``
  (the id of the newest Charge, expandable);
* ``2024-04-10`` made ``automatic_async`` the capture method of an intent created without one (the
  value is accepted from that version on).

Before 2024-09-30 a version is a date from Stripe's published list. From then on it is
``DATE.release`` (``2026-10-28.endive``): a major release opens with breaking changes and its
monthly versions only add, so any date from a known release's first day up to the next release's
first day is read as that release. A version that is neither is refused with a 400, as Stripe
refuses it: answering in a shape the caller did not ask for would hide the mistake.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from payment_intent.domain.errors import InvalidRequestError

#: Stripe's dated versions before the named releases (its changelog's "previous versions").
LEGACY_VERSIONS: frozenset[str] = frozenset(
    (
        "2011-06-21",
        "2011-06-28",
        "2011-08-01",
        "2011-09-15",
        "2011-11-17",
        "2012-02-23",
        "2012-03-25",
        "2012-06-18",
        "2012-07-09",
        "2012-09-24",
        "2012-10-26",
        "2012-11-07",
        "2013-02-11",
        "2013-02-13",
        "2013-07-05",
        "2013-08-12",
        "2013-08-13",
        "2013-10-29",
        "2013-12-03",
        "2014-01-31",
        "2014-03-13",
        "2014-03-28",
        "2014-05-19",
        "2014-06-13",
        "2014-06-17",
        "2014-07-22",
        "2014-07-26",
        "2014-08-04",
        "2014-08-20",
        "2014-09-08",
        "2014-10-07",
        "2014-11-05",
        "2014-11-20",
        "2014-12-08",
        "2014-12-17",
        "2014-12-22",
        "2015-01-11",
        "2015-01-26",
        "2015-02-10",
        "2015-02-16",
        "2015-02-18",
        "2015-03-24",
        "2015-04-07",
        "2015-06-15",
        "2015-07-07",
        "2015-07-13",
        "2015-07-28",
        "2015-08-07",
        "2015-08-19",
        "2015-09-03",
        "2015-09-08",
        "2015-09-23",
        "2015-10-01",
        "2015-10-12",
        "2015-10-16",
        "2016-02-03",
        "2016-02-19",
        "2016-02-22",
        "2016-02-23",
        "2016-02-29",
        "2016-03-07",
        "2016-06-15",
        "2016-07-06",
        "2016-10-19",
        "2017-01-27",
        "2017-02-14",
        "2017-04-06",
        "2017-05-25",
        "2017-06-05",
        "2017-08-15",
        "2017-12-14",
        "2018-01-23",
        "2018-02-05",
        "2018-02-06",
        "2018-02-28",
        "2018-05-21",
        "2018-07-27",
        "2018-08-23",
        "2018-09-06",
        "2018-09-24",
        "2018-10-31",
        "2018-11-08",
        "2019-02-11",
        "2019-02-19",
        "2019-03-14",
        "2019-05-16",
        "2019-08-14",
        "2019-09-09",
        "2019-10-08",
        "2019-10-17",
        "2019-11-05",
        "2019-12-03",
        "2020-03-02",
        "2020-08-27",
        "2022-08-01",
        "2022-11-15",
        "2023-08-16",
        "2023-10-16",
        "2024-04-10",
        "2024-06-20",
    )
)

#: Each named release and the day its first (breaking) version came out, in order.
RELEASES: tuple[tuple[str, str], ...] = (
    ("acacia", "2024-09-30"),
    ("basil", "2025-03-31"),
    ("clover", "2025-09-30"),
    ("dahlia", "2026-03-25"),
    ("endive", "2026-09-30"),
)

_NAMED = re.compile(r"(\d{4}-\d{2}-\d{2})\.([a-z]+)")
_LATEST_CHARGE_FROM = "2022-11-15"
_AUTOMATIC_ASYNC_FROM = "2024-04-10"

#: The longest header value read; versions are 10 to about 20 characters.
_MAX_LENGTH = 64


@dataclass(frozen=True, slots=True)
class ApiVersion:
    """How one version answers: ``name`` as the caller sent it (``None``: no header)."""

    name: str | None
    #: ``True`` from 2022-11-15: ``latest_charge`` and no ``charges`` list.
    latest_charge: bool
    #: ``True`` from 2024-04-10: ``capture_method=automatic_async`` exists and is the default.
    automatic_async: bool

    @property
    def reported(self) -> str:
        """The version an event says it was rendered in (``api_version``)."""
        return self.name if self.name is not None else DEFAULT_REPORTED


#: Without a header: CasaPay's own shape, the ``charges`` list of 2020-08-27.
DEFAULT_REPORTED = "2020-08-27"
DEFAULT = ApiVersion(None, latest_charge=False, automatic_async=False)


@lru_cache(maxsize=64)  # an SDK sends the same header on every request; a refusal is not kept
def resolve(header: str | None) -> ApiVersion:
    """The version a ``Stripe-Version`` header asks for, or a 400 naming it."""
    if header is None or not header.strip():
        return DEFAULT
    value = header.strip()
    date = _date_of(value)
    if date is None:
        shown = value if len(value) <= _MAX_LENGTH else value[:_MAX_LENGTH] + "…"
        raise InvalidRequestError(
            f"Invalid Stripe API version: {shown}. Send a version from Stripe's changelog, such "
            "as 2020-08-27 or 2026-10-28.endive (or no Stripe-Version header for 2020-08-27).",
            code="api_version_invalid",
        )
    return ApiVersion(
        value,
        latest_charge=date >= _LATEST_CHARGE_FROM,
        automatic_async=date >= _AUTOMATIC_ASYNC_FROM,
    )


def _date_of(value: str) -> str | None:
    """The date of a version Stripe has published, or ``None``."""
    if value in LEGACY_VERSIONS:
        return value
    named = _NAMED.fullmatch(value)
    if named is None:
        return None
    date, release = named.groups()
    for index, (name, first) in enumerate(RELEASES):
        if name != release:
            continue
        following = RELEASES[index + 1][1] if index + 1 < len(RELEASES) else None
        if date >= first and (following is None or date < following) and _is_day(date):
            return date
        return None
    return None


def _is_day(date: str) -> bool:
    year, month, day = (int(part) for part in date.split("-"))
    return 1 <= month <= 12 and 1 <= day <= 31 and year >= 2024


def of_endpoint(name: str) -> ApiVersion:
    """A webhook endpoint's version, read by its date alone: an endpoint may name any release date
    (the changes it falls after decide the shapes), so a delivery never fails on its version."""
    date = name[:10]
    return ApiVersion(
        name,
        latest_charge=date >= _LATEST_CHARGE_FROM,
        automatic_async=date >= _AUTOMATIC_ASYNC_FROM,
    )
