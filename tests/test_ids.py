"""Identifiers: time-ordered, unique across threads, and event ids that parse back."""

from __future__ import annotations

import threading

from hypothesis import given
from hypothesis import strategies as st

from payment_intent import ids
from payment_intent.ids import event_id, new_client_secret, new_id, parse_event_id

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(number: int, digits: int = 12) -> str:
    out = []
    for _ in range(digits):
        number, rest = divmod(number, 62)
        out.append(ALPHABET[rest])
    return "".join(reversed(out))


@given(st.integers(0, 62**12 - 1))
def test_the_time_part_is_the_number_in_twelve_base62_digits(number: int) -> None:
    assert ids._time_part(number) == base62(number)


def test_the_cached_high_digits_follow_the_number_across_their_boundary() -> None:
    step = ids._STEP
    for number in (step - 1, step, 5 * step - 1, 5 * step, step - 1):
        assert ids._time_part(number) == base62(number)


def test_ids_made_later_sort_later_and_never_repeat_across_threads() -> None:
    made: list[list[str]] = [[] for _ in range(4)]

    def make(slot: int) -> None:
        made[slot].extend(new_id("pi") for _ in range(5_000))

    threads = [threading.Thread(target=make, args=(slot,)) for slot in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [one for batch in made for one in batch]
    assert len(set(everything)) == len(everything)
    for batch in made:
        assert batch == sorted(batch)
    assert all(len(one) == 27 and one.startswith("pi_") for one in everything)


def test_a_client_secret_names_its_intent_and_is_random() -> None:
    intent = new_id("pi")
    secrets = {new_client_secret(intent) for _ in range(1_000)}
    assert len(secrets) == 1_000
    assert all(secret.startswith(f"{intent}_secret_") for secret in secrets)


@given(
    st.from_regex(r"[a-z]{1,4}_[0-9A-Za-z_]{1,30}", fullmatch=True),
    st.integers(1, 10**6),
    st.integers(0, 100),
)
def test_an_event_id_parses_back_to_its_intent_version_and_index(
    intent: str, version: int, index: int
) -> None:
    assert parse_event_id(event_id(intent, version, index)) == (intent, version, index)


def test_ids_not_made_by_event_id_do_not_parse() -> None:
    for foreign in (
        "evt_1NG8Du2eZvKYlo2CUI79vXWy",
        "pi_x_1_0",
        "evt__1",
        "evt_pi_x_a_0",
        "evt_pi_x_01_0",
        "evt_pi_x_\u0661_0",  # ARABIC-INDIC DIGIT ONE: isdigit, but not how event_id spells 1
        "",
    ):
        assert parse_event_id(foreign) is None
