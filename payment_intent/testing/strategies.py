"""Hypothesis strategies for PaymentIntent parameters and payment methods, per profile."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from payment_intent.adapters.simulated import TEST_METHODS
from payment_intent.domain import currencies
from payment_intent.domain.outcomes import Approved, AuthenticationRequired, Declined, Pending
from payment_intent.domain.profiles import Profile, get_profile

#: Outcome families of the simulated processor's test payment methods.
OUTCOMES = ("approved", "authentication_required", "declined", "asynchronous")


def _family(pm_id: str) -> str:
    known = TEST_METHODS[pm_id]
    if known.redirect:
        return "authentication_required"
    if isinstance(known.outcome, Approved):
        return "approved"
    if isinstance(known.outcome, Pending):
        return "asynchronous"
    assert isinstance(known.outcome, Declined | AuthenticationRequired)
    return "declined"


def payment_method_ids(
    profile: str | Profile = "casapay", outcome: str | None = None
) -> st.SearchStrategy[str]:
    """Ids of test payment methods the profile accepts, optionally only those with one outcome
    (``approved``, ``authentication_required``, ``declined``, ``asynchronous``)."""
    accepted = get_profile(profile).payment_method_types
    ids = sorted(
        pm_id
        for pm_id, known in TEST_METHODS.items()
        if known.method.type in accepted and (outcome is None or _family(pm_id) == outcome)
    )
    if not ids:
        raise ValueError(f"no test payment method of outcome {outcome!r} in this profile")
    return st.sampled_from(ids)


def currency_codes(profile: str | Profile = "casapay") -> st.SearchStrategy[str]:
    """Currencies the profile accepts, in the canonical lower case."""
    allowed = get_profile(profile).currencies
    return st.sampled_from(sorted(allowed if allowed is not None else currencies.MINOR_UNITS))


def amounts(profile: str | Profile, currency: str) -> st.SearchStrategy[int]:
    """Valid amounts for ``currency`` under ``profile``, edges included."""
    low, high = get_profile(profile).amount_bounds(currency)
    return st.one_of(st.just(low), st.just(high), st.integers(low, high))


metadata_keys = st.text(
    st.characters(codec="utf-8", exclude_characters="[]", exclude_categories=["Cs"]),
    min_size=1,
    max_size=40,
)


def metadata(max_keys: int = 50) -> st.SearchStrategy[dict[str, str]]:
    """Metadata within the limits: up to 50 keys of at most 40 characters, values up to 500."""
    values = st.text(
        st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=500
    )
    return st.dictionaries(metadata_keys, values, max_size=max_keys)


@st.composite
def create_params(draw: st.DrawFn, profile: str | Profile = "casapay") -> dict[str, Any]:
    """Keyword arguments for a valid ``PaymentIntents.create`` under ``profile`` (no confirm)."""
    rules = get_profile(profile)
    currency = draw(currency_codes(rules))
    params: dict[str, Any] = {"amount": draw(amounts(rules, currency)), "currency": currency}
    types = draw(
        st.lists(st.sampled_from(sorted(rules.payment_method_types)), min_size=1, unique=True)
    )
    if draw(st.booleans()):
        params["payment_method_types"] = types
    if draw(st.booleans()):
        params["customer"] = draw(st.from_regex(r"cus_[A-Za-z0-9]{1,24}", fullmatch=True))
    if draw(st.booleans()):
        params["metadata"] = draw(metadata(max_keys=5))
    if draw(st.booleans()):
        params["description"] = draw(st.text(max_size=50))
    manual = draw(st.booleans())
    if rules.manual_capture_cards_only:
        if manual:
            params["payment_method_options"] = {"card": {"capture_type": "manual"}}
    else:
        params["capture_method"] = "manual" if manual else "automatic"
    return params
