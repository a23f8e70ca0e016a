"""``python-statemachine``: one ``StateMachine`` per intent, bound to a plain model object."""

from __future__ import annotations

from typing import Any


def _machine_class() -> Any:
    from statemachine import State, StateMachine

    class IntentMachine(StateMachine):  # type: ignore[misc]
        # The library's whole lifecycle: 7 statuses, 12 triggers (see transitions_peers.py).
        requires_payment_method = State(initial=True)
        requires_confirmation = State()
        requires_action = State()
        processing = State()
        requires_capture = State()
        succeeded = State(final=True)
        canceled = State(final=True)

        attach_payment_method = (
            requires_payment_method.to(requires_confirmation)
            | requires_confirmation.to.itself()
            | requires_action.to(requires_confirmation)
        )
        require_action = (
            requires_payment_method.to(requires_action)
            | requires_confirmation.to(requires_action)
            | requires_action.to.itself()
        )
        succeed = (
            requires_payment_method.to(succeeded)
            | requires_confirmation.to(succeeded)
            | requires_action.to(succeeded)
        )
        authorize = (
            requires_payment_method.to(requires_capture)
            | requires_confirmation.to(requires_capture)
            | requires_action.to(requires_capture)
        )
        start_processing = (
            requires_payment_method.to(processing)
            | requires_confirmation.to(processing)
            | requires_action.to(processing)
        )
        fail = (
            requires_payment_method.to.itself()
            | requires_confirmation.to(requires_payment_method)
            | requires_action.to(requires_payment_method)
        )
        await_confirmation = requires_action.to(requires_confirmation)
        settle_succeeded = processing.to(succeeded)
        settle_failed = processing.to(requires_payment_method)
        capture = requires_capture.to(succeeded)
        expire = requires_capture.to(canceled)
        cancel = (
            requires_payment_method.to(canceled)
            | requires_confirmation.to(canceled)
            | requires_action.to(canceled)
            | requires_capture.to(canceled)
        )

    return IntentMachine


class Order:
    """The model the machine writes its state into (``state_field='status'``)."""

    def __init__(self, amount: int, currency: str, capture_method: str) -> None:
        self.amount = amount
        self.currency = currency
        self.capture_method = capture_method
        self.status: str | None = None
        self.payment_method: str | None = None
        self.amount_capturable = 0
        self.amount_received = 0


class PerObject:
    """Builds the machine class once; every checkout instantiates a machine for its order."""

    def __init__(self) -> None:
        self.machine = _machine_class()

    def checkout(self, manual: bool) -> Order:
        order = Order(120_000, "eur", "manual" if manual else "automatic")
        machine = self.machine(model=order, state_field="status")
        order.payment_method = "pm_card_visa"
        machine.send("attach_payment_method")
        if manual:
            machine.send("authorize")
            order.amount_capturable = order.amount
            machine.send("capture")
            order.amount_received, order.amount_capturable = 100_000, 0
        else:
            machine.send("succeed")
            order.amount_received = order.amount
        return order
