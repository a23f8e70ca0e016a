"""Hypothesis strategies for PaymentIntent parameters, payment methods and checkouts, per profile.

- valid parameters: :func:`create_params`, :func:`currency_codes`, :func:`amounts`,
  :func:`metadata`; after the hold: :func:`capture_params`, :func:`flexible_acquiring_options`,
  :func:`increment_params`, :func:`refund_params`, :func:`refund_reasons`;
- invalid parameters, each labelled with the error it must cause (:class:`InvalidParams`):
  :func:`invalid_create_params`, :func:`invalid_update_params`, :func:`invalid_confirm_params`,
  :func:`invalid_capture_params`, :func:`invalid_cancel_params`, :func:`invalid_list_params`,
  :func:`invalid_intent_ids`, :func:`invalid_refund_params`, :func:`invalid_increment_params`;
- payment methods by outcome: :func:`payment_method_ids`, :func:`declined_payment_method_ids`;
- whole checkouts as replayable steps: :func:`checkout_sequences`.

Strings are drawn as bytes and read through the kit's own alphabets, never with ``st.text``,
``st.characters`` or ``st.from_regex``: on their first draw in a directory without ``.hypothesis/``
(every CI runner), those make Hypothesis build its tables of Unicode characters, which takes from a
few tenths of a second (an explicit alphabet, idle machine) to three seconds (a codec or a regular
expression), enough to fail Hypothesis' own "input generation is slow" health check. Bytes are one
choice to Hypothesis, as ``st.text``'s strings are: they shrink as well and cost nothing to set up.
"""

from __future__ import annotations

import string
import sys
from collections.abc import Iterable
from typing import Any, NamedTuple

from hypothesis import strategies as st

from payment_intent.adapters.simulated import TEST_METHODS
from payment_intent.domain import currencies
from payment_intent.domain.outcomes import Approved, AuthenticationRequired, Declined, Pending
from payment_intent.domain.params import (
    CancelParams,
    CaptureParams,
    ConfirmParams,
    CreateParams,
    IncrementParams,
    ListParams,
    RefundParams,
    UpdateParams,
)
from payment_intent.domain.profiles import Profile, get_profile
from payment_intent.testing.sequences import Step

#: Outcome families of the simulated processor's test payment methods.
OUTCOMES = ("approved", "authentication_required", "declined", "asynchronous")

# -- strings, fast from the first draw ---------------------------------------------------------

_ALPHANUMERIC = string.ascii_letters + string.digits
#: Readable characters, ``a`` first: failing examples shrink to ``a``, ``aa``...
_READABLE = string.ascii_letters + string.digits + " " + string.punctuation
_SURROGATES = (0xD800, 0xDFFF)  # not characters: UTF-8 cannot encode a str holding one


def _strings(
    alphabet: str, min_size: int = 0, max_size: int | None = None
) -> st.SearchStrategy[str]:
    """Strings of ``alphabet`` (ASCII), one drawn byte a character."""
    table = bytes(ord(alphabet[byte % len(alphabet)]) for byte in range(256))
    raw = st.binary(min_size=min_size, max_size=max_size)
    return raw.map(lambda drawn: drawn.translate(table).decode("ascii"))


def _text(
    min_size: int = 0, max_size: int | None = None, exclude: str = ""
) -> st.SearchStrategy[str]:
    """Text UTF-8 can encode, but the characters of ``exclude``, three drawn bytes a character:
    half of them readable ASCII, a quarter from the Basic Multilingual Plane (the scripts in
    everyday use), a quarter from anywhere in Unicode."""
    readable = [c for c in _READABLE if c not in exclude]
    holes = sorted({(ord(c), ord(c)) for c in exclude} | {_SURROGATES})

    def allowed_below(limit: int) -> int:
        return limit - sum(min(high, limit - 1) - low + 1 for low, high in holes if low < limit)

    in_plane_0, anywhere = allowed_below(0x10000), allowed_below(sys.maxunicode + 1)

    def nth_allowed(n: int) -> str:
        for low, high in holes:  # in ascending order: step over each hole at or below n
            if n >= low:
                n += high - low + 1
        return chr(n)

    def character(n: int) -> str:  # n: three bytes, 0 to 0xFFFFFF
        if n < 0x800000:
            return readable[n % len(readable)]
        return nth_allowed(n % (in_plane_0 if n < 0xC00000 else anywhere))

    def decode(drawn: bytes) -> str:
        return "".join(
            character(int.from_bytes(drawn[i : i + 3])) for i in range(0, len(drawn) - 2, 3)
        )

    raw = st.binary(min_size=3 * min_size, max_size=None if max_size is None else 3 * max_size)
    return raw.map(decode)


def _prefixed_ids(prefix: str, min_size: int, max_size: int) -> st.SearchStrategy[str]:
    """Ids shaped like the providers': ``cus_`` then letters and digits."""
    return _strings(_ALPHANUMERIC, min_size, max_size).map(lambda tail: prefix + tail)


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


#: The payment method types of an intent created without ``payment_method_types`` (both profiles).
_DEFAULT_TYPES = ("card",)


def _accepted_methods(profile: str | Profile, types: Iterable[str] | None) -> list[str]:
    """Test payment methods an intent of these ``types`` (default: ``["card"]``) accepts."""
    types = _DEFAULT_TYPES if types is None else tuple(types)
    offered = get_profile(profile).payment_method_types
    if not types or not set(types) <= offered:
        raise ValueError(
            f"payment_method_types {list(types)} are not among this profile's {sorted(offered)}"
        )
    return sorted(pm for pm, known in TEST_METHODS.items() if known.method.type in types)


def payment_method_ids(
    profile: str | Profile = "casapay",
    outcome: str | None = None,
    *,
    types: Iterable[str] | None = None,
) -> st.SearchStrategy[str]:
    """Ids of test payment methods an intent accepts, optionally only those with one outcome
    (``approved``, ``authentication_required``, ``declined``, ``asynchronous``).

    ``types`` are the intent's ``payment_method_types``; by default ``["card"]``, what an intent
    created without them accepts. Pass ``intent.payment_method_types``, or the types you create
    intents with, to draw bank transfers or wallets too.
    """
    if outcome is not None and outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; expected one of {list(OUTCOMES)}")
    ids = [
        pm for pm in _accepted_methods(profile, types) if outcome is None or _family(pm) == outcome
    ]
    if not ids:
        raise ValueError(
            f"no test payment method of outcome {outcome!r} for payment_method_types "
            f"{list(types or _DEFAULT_TYPES)}; pass types=[...] that include one"
        )
    return st.sampled_from(ids)


def currency_codes(profile: str | Profile = "casapay") -> st.SearchStrategy[str]:
    """Currencies the profile accepts, in the canonical lower case."""
    allowed = get_profile(profile).currencies
    return st.sampled_from(sorted(allowed if allowed is not None else currencies.MINOR_UNITS))


def amounts(profile: str | Profile, currency: str) -> st.SearchStrategy[int]:
    """Valid amounts for ``currency`` under ``profile``, edges included."""
    low, high = get_profile(profile).amount_bounds(currency)
    return st.one_of(st.just(low), st.just(high), st.integers(low, high))


#: Metadata keys: 1 to 40 characters, any but ``[`` and ``]``.
metadata_keys = _text(min_size=1, max_size=40, exclude="[]")


def metadata(max_keys: int = 50) -> st.SearchStrategy[dict[str, str]]:
    """Metadata within the limits: up to 50 keys of at most 40 characters, values up to 500."""
    return st.dictionaries(metadata_keys, _text(min_size=1, max_size=500), max_size=max_keys)


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
        params["customer"] = draw(_prefixed_ids("cus_", 1, 24))
    if draw(st.booleans()):
        params["metadata"] = draw(metadata(max_keys=5))
    if draw(st.booleans()):
        params["description"] = draw(_text(max_size=50))
    manual = draw(st.booleans())
    if rules.manual_capture_cards_only:
        if manual:
            params["payment_method_options"] = {"card": {"capture_type": "manual"}}
    else:
        params["capture_method"] = "manual" if manual else "automatic"
    return params


# -- declines ----------------------------------------------------------------------------------


def declined_payment_method_ids(
    profile: str | Profile = "casapay",
    code: str | None = None,
    decline_code: str | None = None,
    *,
    types: Iterable[str] | None = None,
) -> st.SearchStrategy[str]:
    """Test payment methods that are declined at confirm, optionally with one ``code``
    (``card_declined``, ``expired_card``) or ``decline_code`` (``insufficient_funds``, ...).

    ``payment_method_ids(profile, "declined")`` gives the same methods without the filter;
    ``types`` is the intent's ``payment_method_types``, as there.
    """

    def declined_so(pm_id: str) -> bool:
        outcome = TEST_METHODS[pm_id].outcome
        return (
            not TEST_METHODS[pm_id].redirect
            and isinstance(outcome, Declined)
            and (code is None or outcome.code == code)
            and (decline_code is None or outcome.decline_code == decline_code)
        )

    ids = [pm_id for pm_id in _accepted_methods(profile, types) if declined_so(pm_id)]
    if not ids:
        raise ValueError(f"no test payment method is declined with {code=} {decline_code=}")
    return st.sampled_from(ids)


# -- invalid parameters ------------------------------------------------------------------------


class InvalidParams(NamedTuple):
    """Keyword arguments with exactly one thing wrong, and the error they must cause.

    Every invalid request raises :class:`~payment_intent.errors.InvalidRequestError` with this
    ``code`` and ``param``, and stores nothing.
    """

    params: dict[str, Any]
    code: str
    param: str


_KNOWN_NAMES = frozenset(
    {
        *CreateParams.model_fields,
        *UpdateParams.model_fields,
        *ConfirmParams.model_fields,
        *CaptureParams.model_fields,
        *CancelParams.model_fields,
        *ListParams.model_fields,
        *IncrementParams.model_fields,
        *RefundParams.model_fields,
        "idempotency_key",
        "intent_id",
    }
)
#: Real provider parameters this library does not take, and made-up ones.
unknown_parameter_names = st.one_of(
    st.sampled_from(
        ["application_fee_amount", "setup_future_usage", "shipping", "receipt_email", "mandate"]
    ),
    st.builds(
        str.__add__,
        st.sampled_from(string.ascii_lowercase),
        _strings(string.ascii_lowercase + string.digits + "_", min_size=1, max_size=20),
    ),
).filter(lambda name: name not in _KNOWN_NAMES)

_NOT_INTEGERS = st.one_of(
    _strings(string.digits, min_size=1, max_size=6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.lists(st.integers(), max_size=1),
)
_NOT_STRINGS = st.one_of(st.integers(), st.booleans(), st.lists(_text(max_size=3), max_size=1))


def _invalid(params: dict[str, Any], code: str, param: str) -> InvalidParams:
    return InvalidParams(params, code, param)


def _bad_idempotency_key() -> st.SearchStrategy[InvalidParams]:
    return st.sampled_from(["", "k" * 256]).map(
        lambda key: _invalid({"idempotency_key": key}, "parameter_invalid", "idempotency_key")
    )


def _unknown_parameter() -> st.SearchStrategy[InvalidParams]:
    return st.builds(
        lambda name, value: _invalid({name: value}, "parameter_unknown", name),
        unknown_parameter_names,
        st.one_of(st.integers(), _text(max_size=5), st.booleans()),
    )


def _wrong_amount(rules: Profile, name: str = "amount") -> st.SearchStrategy[InvalidParams]:
    """An amount that is not an integer, not positive, or over the profile's maximum."""
    return st.one_of(
        _NOT_INTEGERS.map(lambda v: _invalid({name: v}, "parameter_invalid_integer", name)),
        st.integers(max_value=0).map(lambda v: _invalid({name: v}, "amount_too_small", name)),
        st.integers(rules.maximum_amount + 1, rules.maximum_amount * 10).map(
            lambda v: _invalid({name: v}, "amount_too_large", name)
        ),
    )


@st.composite
def _amount_under_minimum(draw: st.DrawFn, rules: Profile) -> InvalidParams:
    """A positive amount under the minimum of a currency that has one above a single unit."""
    currency = draw(
        currency_codes(rules).filter(lambda code: rules.amount_bounds(code)[0] > 1),
        label="currency",
    )
    low = rules.amount_bounds(currency)[0]
    amount = draw(st.one_of(st.just(low - 1), st.integers(1, low - 1)), label="amount")
    return _invalid({"currency": currency, "amount": amount}, "amount_too_small", "amount")


def _unknown_currency(rules: Profile) -> st.SearchStrategy[InvalidParams]:
    wrong: list[st.SearchStrategy[Any]] = [
        _strings(string.ascii_lowercase, min_size=3, max_size=3).filter(
            lambda c: c not in currencies.MINOR_UNITS
        ),
        st.sampled_from(["", "eu", "euro", "us dollar", "dem", "xyz"]),
        _NOT_STRINGS,
    ]
    if rules.currencies is not None:  # a real currency the profile does not take
        wrong.append(st.sampled_from(sorted(set(currencies.MINOR_UNITS) - rules.currencies)))
    return st.one_of(wrong).map(
        lambda c: _invalid({"currency": c}, "parameter_invalid", "currency")
    )


def _bad_metadata() -> st.SearchStrategy[InvalidParams]:
    too_many = st.integers(51, 60).map(lambda n: {f"k{i}": "v" for i in range(n)})
    long_key = _strings(string.ascii_letters, min_size=41, max_size=60)
    bracketed = st.tuples(metadata_keys, st.sampled_from("[]")).map(lambda kb: kb[0][:39] + kb[1])
    bad_key = st.one_of(long_key, bracketed, st.just(""))
    long_value = _strings(string.ascii_letters, min_size=501, max_size=600)

    def whole(value: Any) -> InvalidParams:
        return _invalid({"metadata": value}, "parameter_invalid", "metadata")

    def not_a_string(pair: tuple[str, Any]) -> InvalidParams:
        key, value = pair
        return _invalid({"metadata": {key: value}}, "parameter_invalid", f"metadata[{key}]")

    return st.one_of(
        too_many.map(whole),
        bad_key.map(lambda key: whole({key: "v"})),
        long_value.map(lambda value: whole({"order": value})),
        st.sampled_from(["order=1", ["order"], 7]).map(whole),
        st.tuples(_strings(string.ascii_lowercase, min_size=1, max_size=10), _NOT_STRINGS).map(
            not_a_string
        ),
    )


def _bad_statement_descriptor(rules: Profile) -> st.SearchStrategy[InvalidParams]:
    letters = string.ascii_uppercase
    too_long = _strings(letters, min_size=23, max_size=40)
    wrong: list[st.SearchStrategy[Any]] = [too_long, _NOT_STRINGS]
    if rules.statement_descriptor_strict:
        wrong += [
            _strings(letters, max_size=rules.statement_descriptor_min - 1),
            st.sampled_from("<>\\'\"*").map(lambda c: f"ACME{c}SHOP"),
            _strings(string.digits + " ", min_size=5, max_size=22),  # no letter
            st.sampled_from(["東京タワー商店", "ΑΘΗΝΑ ΚΑΦΕ", "Москва маркет"]),  # not Latin
        ]
    return st.one_of(wrong).map(
        lambda v: _invalid({"statement_descriptor": v}, "parameter_invalid", "statement_descriptor")
    )


def _bad_value(name: str, values: st.SearchStrategy[Any]) -> st.SearchStrategy[InvalidParams]:
    return values.map(lambda v: _invalid({name: v}, "parameter_invalid", name))


def _bad_ids(name: str) -> st.SearchStrategy[InvalidParams]:
    return _bad_value(name, st.one_of(st.sampled_from(["", "x" * 256]), _NOT_STRINGS))


def _bad_methods() -> st.SearchStrategy[InvalidParams]:
    """A payment method the processor does not know, or one of a type the intent refuses."""
    other_types = sorted(
        {known.method.type for known in TEST_METHODS.values()} - {"card"}
    )  # every known non-card method, whichever profile it belongs to
    refused = st.sampled_from(
        sorted(pm for pm, known in TEST_METHODS.items() if known.method.type in other_types)
    )
    return st.one_of(
        _prefixed_ids("pm_", 1, 20)
        .filter(lambda pm: pm not in TEST_METHODS)
        .map(lambda pm: _invalid({"payment_method": pm}, "resource_missing", "payment_method")),
        refused.map(
            lambda pm: _invalid(
                {"payment_method": pm, "payment_method_types": ["card"]},
                "parameter_invalid",
                "payment_method",
            )
        ),
        _bad_ids("payment_method"),
    )


def _bad_method_types(rules: Profile) -> st.SearchStrategy[InvalidParams]:
    foreign = sorted({"card", "open_banking", "direct_debit", "gcash", "maya", "qrph", "sepa"})
    unsupported = [kind for kind in foreign if kind not in rules.payment_method_types]
    name = "payment_method_types"
    return st.one_of(
        _bad_value(name, st.one_of(st.just([]), st.just("card"), st.sampled_from(unsupported))),
        st.sampled_from(unsupported).map(
            lambda kind: _invalid({name: [kind]}, "parameter_invalid", name)
        ),
        st.just(_invalid({name: [""]}, "parameter_invalid", f"{name}[0]")),
    )


def _bad_method_options() -> st.SearchStrategy[InvalidParams]:
    name = "payment_method_options"
    return st.sampled_from(
        [
            _invalid(
                {name: {"card": {"capture_type": "later"}}},
                "parameter_invalid",
                f"{name}[card][capture_type]",
            ),
            _invalid(
                {name: {"card": {"allowed_bins": ["12ab"]}}},
                "parameter_invalid",
                f"{name}[card][allowed_bins][0]",
            ),
            _invalid(
                {name: {"card": {"allowed_funding": ["prepaid"]}}},
                "parameter_invalid",
                f"{name}[card][allowed_funding][0]",
            ),
            _invalid({name: {"wechat_pay": {}}}, "parameter_unknown", f"{name}[wechat_pay]"),
            _invalid(
                {name: {"card": {"installments": True}}},
                "parameter_unknown",
                f"{name}[card][installments]",
            ),
        ]
    )


_long_text = _strings(_ALPHANUMERIC, min_size=1001, max_size=1100)  # over 1000 characters


def _common_intent_defects(rules: Profile) -> list[st.SearchStrategy[InvalidParams]]:
    """Defects shared by create and update: amounts, currency, metadata, descriptor, names."""
    return [
        _wrong_amount(rules),
        _amount_under_minimum(rules),
        _unknown_currency(rules),
        _bad_metadata(),
        _bad_statement_descriptor(rules),
        _bad_value("description", st.one_of(_long_text, _NOT_STRINGS)),
        _bad_value("capture_method", st.sampled_from(["later", "Manual", "", 1])),
        _bad_method_types(rules),
        _bad_method_options(),
        _bad_methods(),
        _unknown_parameter(),
        _bad_idempotency_key(),
    ]


def invalid_intent_ids() -> st.SearchStrategy[InvalidParams]:
    """Ids no operation on an intent accepts, as ``params={"intent_id": ...}``: ids of no stored
    intent (``resource_missing``) and malformed ones; the error names the parameter ``intent``."""
    return st.one_of(
        _prefixed_ids("pi_", 24, 24).map(
            lambda i: _invalid({"intent_id": i}, "resource_missing", "intent")
        ),
        st.one_of(st.sampled_from(["", "p" * 256]), _NOT_STRINGS).map(
            lambda i: _invalid({"intent_id": i}, "parameter_invalid", "intent")
        ),
    )


@st.composite
def invalid_create_params(draw: st.DrawFn, profile: str | Profile = "casapay") -> InvalidParams:
    """``PaymentIntents.create`` keyword arguments with exactly one thing wrong, labelled with the
    error code and parameter the refusal must name.

    The rest of the arguments are valid (:func:`create_params`), so the one defect decides the
    error: wrong types, amounts out of the currency's bounds (zero-decimal currencies included),
    unknown or refused currencies, metadata over its limits, bad statement descriptors, unknown
    parameters, unknown or refused payment methods, a missing required parameter, and confirming
    without a payment method.
    """
    rules = get_profile(profile)
    base = draw(create_params(rules), label="valid params")
    defects = [
        *_common_intent_defects(rules),
        st.sampled_from(["amount", "currency"]).map(
            lambda name: _invalid({name: None}, "parameter_missing", name)
        ),
        _bad_ids("customer"),
        _bad_value("confirmation_method", st.sampled_from(["auto", "", 0])),
        _bad_value("confirm", st.sampled_from(["true", 1, "yes"])),
        _bad_value("return_url", st.sampled_from(["", "shop.example/return", "ftp://shop", "x"])),
        st.just(_invalid({"confirm": True}, "payment_intent_unexpected_state", "payment_method")),
    ]
    if not rules.manual_capture_cards_only:
        # Manual capture holds cards only: an asynchronous method is refused at confirm.
        defects.append(
            st.sampled_from(["pm_open_banking", "pm_direct_debit"]).map(
                lambda pm: _invalid(
                    {
                        "capture_method": "manual",
                        "payment_method_types": ["open_banking", "direct_debit"],
                        "payment_method": pm,
                        "confirm": True,
                    },
                    "parameter_invalid",
                    "payment_method",
                )
            )
        )
    else:
        # PayRex's card options restrict which cards an intent accepts.
        defects.append(
            st.sampled_from(["pm_card_visa", "pm_card_mastercard"]).map(
                lambda pm: _invalid(
                    {
                        "payment_method_types": ["card"],
                        "payment_method_options": {"card": {"allowed_bins": ["000000"]}},
                        "payment_method": pm,
                    },
                    "parameter_invalid",
                    "payment_method",
                )
            )
        )
    defect = draw(st.one_of(defects), label="defect")
    params = {**base, **defect.params}
    if "payment_method" in defect.params and "payment_method_types" not in defect.params:
        params.pop("payment_method_types", None)  # keep the default ["card"] the label assumes
    params = {name: value for name, value in params.items() if value is not None}
    return InvalidParams(params, defect.code, defect.param)


def invalid_update_params(profile: str | Profile = "casapay") -> st.SearchStrategy[InvalidParams]:
    """``PaymentIntents.update`` arguments with one thing wrong, for an intent of ``profile`` in
    ``requires_payment_method`` with the default ``payment_method_types`` (``["card"]``)."""
    rules = get_profile(profile)
    return st.one_of(_common_intent_defects(rules))


def invalid_confirm_params(profile: str | Profile = "casapay") -> st.SearchStrategy[InvalidParams]:
    """``PaymentIntents.confirm`` arguments with one thing wrong, for an intent of ``profile`` in
    ``requires_payment_method`` with no payment method and the default ``payment_method_types``.
    """
    get_profile(profile)  # refuse an unknown profile name here, not in the middle of a test
    methods = _bad_methods().map(
        # confirm takes no payment_method_types: the intent's own ["card"] refuses the method
        lambda d: _invalid(
            {k: v for k, v in d.params.items() if k != "payment_method_types"}, d.code, d.param
        )
    )
    return st.one_of(
        methods,
        st.just(_invalid({}, "payment_intent_unexpected_state", "payment_method")),
        _bad_value("return_url", st.sampled_from(["", "shop.example/return", "ftp://shop", 5])),
        _unknown_parameter().map(
            lambda d: _invalid({**d.params, "payment_method": "pm_card_visa"}, d.code, d.param)
        ),
        _bad_idempotency_key().map(
            lambda d: _invalid({**d.params, "payment_method": "pm_card_visa"}, d.code, d.param)
        ),
    )


def invalid_capture_params(
    profile: str | Profile = "casapay", amount_capturable: int = 10_000
) -> st.SearchStrategy[InvalidParams]:
    """``PaymentIntents.capture`` arguments with one thing wrong, for an intent of ``profile`` in
    ``requires_capture`` holding ``amount_capturable``, not granted multicapture."""
    rules = get_profile(profile)
    name = "amount_to_capture"

    def valid(params: dict[str, Any]) -> dict[str, Any]:
        return {name: amount_capturable, **params}

    defects = [
        _NOT_INTEGERS.map(lambda v: _invalid({name: v}, "parameter_invalid_integer", name)),
        st.integers(max_value=rules.capture_minimum - 1).map(
            lambda v: _invalid({name: v}, "amount_too_small", name)
        ),
        st.integers(amount_capturable + 1, amount_capturable * 10).map(
            lambda v: _invalid({name: v}, "amount_too_large", name)
        ),
        _unknown_parameter().map(lambda d: _invalid(valid(d.params), d.code, d.param)),
        _bad_idempotency_key().map(lambda d: _invalid(valid(d.params), d.code, d.param)),
        _bad_value("final_capture", st.sampled_from(["no", 2, [False]])).map(
            lambda d: _invalid(valid(d.params), d.code, d.param)
        ),
        # Keeping the rest of a hold for later captures needs multicapture, not granted here.
        st.just(_invalid(valid({"final_capture": False}), "parameter_invalid", "final_capture")),
    ]
    if rules.capture_amount_required:
        defects.append(st.just(_invalid({}, "parameter_missing", name)))
    return st.one_of(defects)


def invalid_cancel_params(profile: str | Profile = "casapay") -> st.SearchStrategy[InvalidParams]:
    """``PaymentIntents.cancel`` arguments with one thing wrong (any cancelable intent)."""
    name = "cancellation_reason"
    return st.one_of(
        _bad_value(name, st.sampled_from(["automatic", "because", "Duplicate", "", 3])),
        _unknown_parameter(),
        _bad_idempotency_key(),
    )


def invalid_list_params(profile: str | Profile = "casapay") -> st.SearchStrategy[InvalidParams]:
    """``PaymentIntents.list`` arguments with one thing wrong."""
    return st.one_of(
        st.one_of(st.integers(max_value=0), st.integers(101, 10_000)).map(
            lambda v: _invalid({"limit": v}, "parameter_invalid", "limit")
        ),
        _NOT_INTEGERS.map(lambda v: _invalid({"limit": v}, "parameter_invalid_integer", "limit")),
        _bad_value("status", st.sampled_from(["paid", "awaiting_payment_method", "", 1])),
        _bad_ids("customer"),
        st.sampled_from(["yesterday", 1.5]).map(
            lambda v: _invalid({"created": v}, "parameter_invalid_integer", "created")
        ),
        st.sampled_from(["gt", "gte", "lt", "lte"]).map(
            lambda op: _invalid(
                {"created": {op: "x"}}, "parameter_invalid_integer", f"created[{op}]"
            )
        ),
        st.sampled_from(["after", "before", "eq"]).map(
            lambda op: _invalid({"created": {op: 1}}, "parameter_unknown", f"created[{op}]")
        ),
        st.just(
            _invalid(
                {"starting_after": "pi_a", "ending_before": "pi_b"},
                "parameter_invalid",
                "ending_before",
            )
        ),
        st.sampled_from(["starting_after", "ending_before"]).map(
            lambda name: _invalid({name: "pi_missing"}, "resource_missing", name)
        ),
        _unknown_parameter(),
    )


# -- after the hold: captures in parts, increments, refunds -------------------------------------

#: The flexible-acquiring features a CasaPay card hold may ask for (Stripe's names).
FLEXIBLE_ACQUIRING = (
    "multicapture",
    "overcapture",
    "incremental_authorization",
    "extended_authorization",
)


def flexible_acquiring_options(
    profile: str | Profile = "casapay",
) -> st.SearchStrategy[dict[str, Any]]:
    """``payment_method_options`` asking for one or more flexible-acquiring features, each
    ``if_available`` or ``never``: ``{"card": {"request_multicapture": "if_available"}}``. Pass
    them to ``create`` or ``confirm``. CasaPay only: PayRex captures a hold once."""
    if not get_profile(profile).flexible_acquiring:
        raise ValueError(f"profile {profile!r} has no flexible acquiring: it captures a hold once")
    names = st.sampled_from([f"request_{feature}" for feature in FLEXIBLE_ACQUIRING])
    asks = st.dictionaries(names, st.sampled_from(["if_available", "never"]), min_size=1)
    return asks.map(lambda card: {"card": card})


def refund_reasons(profile: str | Profile = "casapay") -> st.SearchStrategy[str]:
    """The reasons a caller may give a refund under ``profile`` (never the library's own
    ``expired_uncaptured_charge``)."""
    return st.sampled_from(sorted(get_profile(profile).refund_reasons))


@st.composite
def capture_params(
    draw: st.DrawFn,
    profile: str | Profile = "casapay",
    amount_capturable: int = 10_000,
    *,
    multicapture: bool = False,
) -> dict[str, Any]:
    """Keyword arguments for a valid ``capture`` of a hold with ``amount_capturable`` left; with
    ``multicapture`` (the hold was granted it) some keep the rest held, ``final_capture=False``."""
    rules = get_profile(profile)
    low = rules.capture_minimum
    if amount_capturable < low:
        raise ValueError(f"a hold of {amount_capturable} is under the capture minimum {low}")
    params: dict[str, Any] = {}
    if rules.capture_amount_required or draw(st.booleans(), label="amount given"):
        params["amount_to_capture"] = draw(
            st.one_of(st.just(amount_capturable), st.integers(low, amount_capturable)),
            label="amount_to_capture",
        )
    if multicapture and draw(st.booleans(), label="final_capture given"):
        params["final_capture"] = draw(st.booleans(), label="final_capture")
    return params


@st.composite
def increment_params(
    draw: st.DrawFn, profile: str | Profile = "casapay", currency: str = "eur", amount: int = 1_000
) -> dict[str, Any]:
    """Keyword arguments for a valid ``increment_authorization`` of a hold of ``amount``: a new
    total above it, within the currency's maximum."""
    high = get_profile(profile).amount_bounds(currency)[1]
    if amount >= high:
        raise ValueError(f"a hold of {amount} {currency} cannot be raised above the maximum")
    params: dict[str, Any] = {
        "amount": draw(st.one_of(st.just(amount + 1), st.integers(amount + 1, high)), label="new")
    }
    if draw(st.booleans(), label="with metadata"):
        params["metadata"] = draw(metadata(max_keys=3))
    return params


@st.composite
def refund_params(
    draw: st.DrawFn, profile: str | Profile = "casapay", refundable: int = 10_000
) -> dict[str, Any]:
    """Keyword arguments for a valid ``refund`` of a payment with ``refundable`` collected and not
    yet refunded; without ``amount``, the refund takes all of it."""
    rules = get_profile(profile)
    if refundable < 1:
        raise ValueError("nothing is left to refund")
    params: dict[str, Any] = {}
    if draw(st.booleans(), label="amount given"):
        params["amount"] = draw(st.one_of(st.just(refundable), st.integers(1, refundable)))
    if draw(st.booleans(), label="reason given"):
        params["reason"] = draw(refund_reasons(rules))
    if draw(st.booleans(), label="metadata given"):
        params["metadata"] = draw(metadata(max_keys=3))
    if not rules.flexible_acquiring and draw(st.booleans(), label="remarks given"):
        params["remarks"] = draw(_text(max_size=50))  # PayRex's note for its own records
    return params


def invalid_refund_params(
    profile: str | Profile = "casapay", refundable: int = 10_000
) -> st.SearchStrategy[InvalidParams]:
    """``PaymentIntents.refund`` arguments with one thing wrong, for an intent of ``profile`` that
    collected money of which ``refundable`` is not yet refunded: amounts that are not positive
    integers or exceed what is left, reasons the profile does not take (the library's own
    ``expired_uncaptured_charge`` among them), bad metadata, unknown parameters."""
    rules = get_profile(profile)
    taken = rules.refund_reasons
    others = sorted({"duplicate", "others", "product_was_damaged", "fraudulent"} - taken)
    wrong_reasons = st.sampled_from(["expired_uncaptured_charge", "because", "", *others])
    return st.one_of(
        _NOT_INTEGERS.map(lambda v: _invalid({"amount": v}, "parameter_invalid_integer", "amount")),
        st.integers(max_value=0).map(
            lambda v: _invalid({"amount": v}, "amount_too_small", "amount")
        ),
        st.integers(refundable + 1, refundable * 10).map(
            lambda v: _invalid({"amount": v}, "amount_too_large", "amount")
        ),
        _bad_value("reason", wrong_reasons),
        _bad_metadata().filter(lambda d: isinstance(d.params["metadata"], dict)),
        _unknown_parameter(),
        _bad_idempotency_key(),
    )


def invalid_increment_params(
    profile: str | Profile = "casapay", amount: int = 10_000
) -> st.SearchStrategy[InvalidParams]:
    """``PaymentIntents.increment_authorization`` arguments with one thing wrong, for a CasaPay
    hold of ``amount`` granted incremental authorization: a new total missing, not an integer,
    not above the current one, or over the maximum; bad metadata; unknown parameters."""
    rules = get_profile(profile)
    if not rules.flexible_acquiring:
        raise ValueError(f"profile {profile!r} has no incremental authorization")
    name = "amount"
    above = {name: amount + 1}
    return st.one_of(
        st.just(_invalid({}, "parameter_missing", name)),
        _NOT_INTEGERS.map(lambda v: _invalid({name: v}, "parameter_invalid_integer", name)),
        st.integers(max_value=0).map(lambda v: _invalid({name: v}, "amount_too_small", name)),
        st.one_of(st.just(amount), st.integers(1, amount)).map(
            lambda v: _invalid({name: v}, "parameter_invalid", name)
        ),
        st.integers(rules.maximum_amount + 1, rules.maximum_amount * 10).map(
            lambda v: _invalid({name: v}, "amount_too_large", name)
        ),
        _bad_metadata().map(lambda d: _invalid({**above, **d.params}, d.code, d.param)),
        _unknown_parameter().map(lambda d: _invalid({**above, **d.params}, d.code, d.param)),
        _bad_idempotency_key().map(lambda d: _invalid({**above, **d.params}, d.code, d.param)),
    )


# -- whole checkouts ---------------------------------------------------------------------------


class _Checkout:
    """What a sequence expects of its intent, predicted from the simulated processor's methods.

    The prediction only steers which step comes next, so that most steps are accepted; replaying
    a sequence never relies on it.
    """

    def __init__(self, rules: Profile, params: dict[str, Any]) -> None:
        self.rules = rules
        self.types: list[str] = params.get("payment_method_types", ["card"])
        card = params.get("payment_method_options", {}).get("card", {})
        self.manual = (
            card.get("capture_type") == "manual"
            if rules.manual_capture_cards_only
            else params.get("capture_method") == "manual"
        )
        self.manual_confirmation = params.get("confirmation_method") == "manual"
        self.status = "requires_payment_method"
        self.method: str | None = None
        self.authenticated: str | None = None

    def methods(self) -> list[str]:
        usable = _accepted_methods(self.rules, self.types)
        if self.manual and not self.rules.manual_capture_cards_only:
            # CasaPay holds cards only (checkout_sequences makes sure cards are allowed).
            return [pm for pm in usable if TEST_METHODS[pm].method.type == "card"]
        return usable

    def attach(self, method: str) -> None:
        self.method, self.status, self.authenticated = method, "requires_confirmation", None

    def confirm(self, method: str | None) -> None:
        method = method or self.method
        if method is None or TEST_METHODS[method].method.type not in self.types:
            return
        kind = TEST_METHODS[method].method.type
        if self.manual and kind != "card" and not self.rules.manual_capture_cards_only:
            return  # refused: only cards can be held for manual capture
        self.method = method
        if TEST_METHODS[method].redirect and self.authenticated != method:
            self.status = "requires_action"
        else:
            self.finish(TEST_METHODS[method].outcome, kind)

    def finish(self, outcome: object, kind: str) -> None:
        self.authenticated = None
        if isinstance(outcome, Declined):
            self.status, self.method = "requires_payment_method", None
        elif isinstance(outcome, Pending):
            self.status = "processing"
        elif self.manual and kind == "card":
            self.status = "requires_capture"
        else:
            self.status = "succeeded"

    def complete_action(self, succeed: bool) -> None:
        assert self.method is not None
        if not succeed:
            self.status, self.method = "requires_payment_method", None
        elif self.manual_confirmation:
            self.status, self.authenticated = "requires_confirmation", self.method
        else:
            known = TEST_METHODS[self.method]
            self.finish(known.outcome, known.method.type)


@st.composite
def checkout_sequences(
    draw: st.DrawFn, profile: str | Profile = "casapay", max_steps: int = 8
) -> list[Step]:
    """A whole checkout as a list of :class:`~payment_intent.testing.sequences.Step`: a create,
    then up to ``max_steps`` of what a shop and its customer do next (attach or change a payment
    method, confirm, authenticate or fail to, settle, capture all or part, cancel, let time pass).

    Steps follow the lifecycle as the simulated processor's test methods predict it, so most are
    accepted; run them with :func:`~payment_intent.testing.sequences.replay`, which records a
    refusal as a result instead of stopping. Sequences shrink to shorter, simpler checkouts.
    """
    rules = get_profile(profile)
    params = draw(create_params(rules), label="create")
    types = params.get("payment_method_types", ["card"])
    if params.get("capture_method") == "manual" and "card" not in types:
        params["payment_method_types"] = [*types, "card"]  # a hold needs a card to hold
    checkout = _Checkout(rules, params)
    if draw(st.booleans(), label="method at create"):
        method = draw(st.sampled_from(checkout.methods()), label="payment_method")
        params["payment_method"] = method
        checkout.attach(method)
        if draw(st.booleans(), label="confirm at create"):
            params["confirm"] = True
            checkout.confirm(None)
    steps = [Step("create", params)]
    reasons = st.sampled_from([None, "requested_by_customer", "abandoned", "duplicate"])
    for _ in range(draw(st.integers(0, max_steps), label="steps")):
        status = checkout.status
        if status in ("succeeded", "canceled"):
            break
        progress = []  # steps that move the checkout on; drawn twice as often as the others
        if status in ("requires_payment_method", "requires_confirmation", "requires_action"):
            progress += ["attach", "confirm"]
        if status == "requires_action":
            progress += ["complete_action"]
        if status == "processing":
            progress += ["settle"]
        if status == "requires_capture":
            progress += ["capture", "advance_clock"]
        choices = [*progress, *progress, "update_metadata"]
        if status in {s.value for s in rules.cancelable}:
            choices.append("cancel")
        choice = draw(st.sampled_from(choices), label="next step")
        if choice == "update_metadata":
            steps.append(Step("update", {"metadata": draw(metadata(max_keys=2))}))
        elif choice == "attach":
            method = draw(st.sampled_from(checkout.methods()), label="payment_method")
            steps.append(Step("update", {"payment_method": method}))
            checkout.attach(method)
        elif choice == "confirm":
            methods = st.sampled_from(checkout.methods())
            chosen = draw(
                methods if checkout.method is None else st.one_of(st.none(), methods),
                label="payment_method",
            )
            steps.append(Step("confirm", {"payment_method": chosen} if chosen else {}))
            checkout.confirm(chosen)
        elif choice == "complete_action":
            succeed = draw(st.booleans(), label="authenticated")
            steps.append(Step("complete_action", {"succeed": succeed}))
            checkout.complete_action(succeed)
        elif choice == "settle":
            succeed = draw(st.booleans(), label="settled")
            steps.append(Step("settle", {"succeed": succeed}))
            checkout.finish(Approved() if succeed else Declined("failed", "failed"), "bank")
        elif choice == "capture":
            amount = draw(
                st.one_of(
                    st.none() if not rules.capture_amount_required else st.nothing(),
                    st.integers(rules.capture_minimum, params["amount"]),
                ),
                label="amount_to_capture",
            )
            steps.append(Step("capture", {} if amount is None else {"amount_to_capture": amount}))
            checkout.status = "succeeded"
        elif choice == "advance_clock":
            seconds = draw(st.sampled_from([3600, rules.authorization_window]), label="seconds")
            steps.append(Step("advance_clock", {"seconds": seconds}))
            if seconds >= rules.authorization_window:
                checkout.status = "canceled"
        else:
            reason = draw(reasons, label="cancellation_reason")
            steps.append(Step("cancel", {"cancellation_reason": reason} if reason else {}))
            checkout.status = "canceled"
    return steps
