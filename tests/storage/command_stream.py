"""A reproducible stream of checkout commands, each sent with its own idempotency key.

The crash test's child process runs the stream from the start every time it is restarted: the
commands it already completed replay from their idempotency records, so it picks up where the last
run was killed. The test itself rebuilds the same stream to retry the interrupted command.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from payment_intent import PaymentIntents
from payment_intent.errors import PaymentIntentError

CREATE_KINDS: tuple[dict[str, Any], ...] = (
    {"capture_method": "manual"},
    {"payment_method": "pm_card_visa", "capture_method": "manual", "confirm": True},
    {"payment_method": "pm_card_visa", "confirm": True},
    {"payment_method": "pm_card_visa_chargeDeclined", "confirm": True},
    {
        "payment_method": "pm_card_threeDSecure2Required",
        "capture_method": "manual",
        "confirm": True,
        "return_url": "https://shop.example/back",
    },
)
METHODS = ("pm_card_visa", "pm_card_visa_chargeDeclined", "pm_card_threeDSecure2Required")
OPERATIONS = ("confirm", "capture", "cancel", "update", "complete_action")


@dataclass(frozen=True)
class Command:
    index: int
    op: str
    target: int | None  # the index of the create command whose intent this acts on
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"cmd-{self.index}"


def build(seed: int, count: int) -> list[Command]:
    rng = random.Random(seed)
    commands: list[Command] = []
    creates: list[int] = []
    for index in range(count):
        if len(creates) < 3 or rng.random() < 0.3:
            params = {"amount": rng.randrange(500, 100_000), "currency": "usd"}
            params.update(rng.choice(CREATE_KINDS))
            commands.append(Command(index, "create", None, params))
            creates.append(index)
            continue
        target = rng.choice(creates[-8:])  # recent intents, so commands meet live states
        op = rng.choice(OPERATIONS)
        params = {}
        if op == "confirm":
            params = {"payment_method": rng.choice(METHODS), "return_url": "https://shop.example"}
        elif op == "capture" and rng.random() < 0.5:
            params = {"amount_to_capture": 100}
        elif op == "update":
            params = {"metadata": {"step": str(index)}}
        elif op == "complete_action":
            params = {"succeed": rng.random() < 0.7}
        commands.append(Command(index, op, target, params))
    return commands


def execute(service: PaymentIntents, command: Command, ids: dict[int, str]) -> str:
    """Run one command; its result (the intent, or the error) as JSON. Learns created ids."""
    try:
        if command.op == "create":
            intent = service.create(**command.params, idempotency_key=command.key)
        else:
            assert command.target is not None
            method = getattr(service, command.op)
            intent = method(ids[command.target], **command.params, idempotency_key=command.key)
    except PaymentIntentError as error:
        if command.op == "create" and error.payment_intent is not None:
            ids[command.index] = error.payment_intent.id  # a declined create-and-confirm
        return f"error:{error.to_dict()}"
    if command.op == "create":
        ids[command.index] = intent.id
    return f"intent:{intent.model_dump_json()}"


def run_until_killed(
    path: str, seed: int, count: int, start: int, ids: dict[int, str], progress: Any
) -> None:
    """The crash test's child: run the stream from ``start`` on an SQLite file until killed.

    ``ids`` are the intents created before ``start``; ``progress[0]`` / ``progress[1]`` (a shared
    array) hold the command begun last and the one finished last, so the killer knows which
    command it interrupted.
    """
    from payment_intent import SQLiteStore

    service = PaymentIntents(SQLiteStore(path))
    ids = dict(ids)
    for command in build(seed, count)[start:]:
        progress[0] = command.index
        execute(service, command, ids)
        progress[1] = command.index
