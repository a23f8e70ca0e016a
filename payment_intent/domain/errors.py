"""The error hierarchy: every refusal is a typed exception carrying its error body."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from payment_intent.domain.model import PaymentIntent


class PaymentIntentError(Exception):
    """Base of every error the library raises on purpose; carries a provider error body's fields."""

    type: ClassVar[str] = "api_error"
    default_status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        code: str,
        param: str | None = None,
        http_status: int | None = None,
        decline_code: str | None = None,
        payment_intent: PaymentIntent | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.http_status = http_status if http_status is not None else self.default_status
        self.decline_code = decline_code
        self.payment_intent = payment_intent

    def with_intent(self, intent: PaymentIntent) -> PaymentIntentError:
        """Return a copy of this error that carries ``intent`` as it now stands."""
        return type(self)(
            self.message,
            code=self.code,
            param=self.param,
            http_status=self.http_status,
            decline_code=self.decline_code,
            payment_intent=intent,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by keywords (the default re-calls ``cls(*args)``, which lacks ``code``), so an
        error survives crossing a process boundary, as in a process pool."""
        fields: dict[str, Any] = {
            "code": self.code,
            "param": self.param,
            "http_status": self.http_status,
            "decline_code": self.decline_code,
            "payment_intent": self.payment_intent,
        }
        return (partial(type(self), self.message, **fields), ())

    def to_dict(self) -> dict[str, Any]:
        """The error as plain data: the idempotency record keeps it so a retry raises it again."""
        return {
            "type": self.type,
            "code": self.code,
            "message": self.message,
            "param": self.param,
            "http_status": self.http_status,
            "decline_code": self.decline_code,
            "payment_intent": (
                self.payment_intent.model_dump(mode="json") if self.payment_intent else None
            ),
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> PaymentIntentError:
        """Rebuild an error saved by :meth:`to_dict`, as its own class."""
        from payment_intent.domain.model import PaymentIntent

        cls = _BY_TYPE.get(data["type"], PaymentIntentError)
        intent = data.get("payment_intent")
        return cls(
            data["message"],
            code=data["code"],
            param=data.get("param"),
            http_status=data.get("http_status"),
            decline_code=data.get("decline_code"),
            payment_intent=PaymentIntent.model_validate(intent) if intent else None,
        )

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(code={self.code!r}, param={self.param!r}, message={self.message!r})"


class InvalidRequestError(PaymentIntentError):
    """The request was wrong: a parameter, an unknown id, or an operation the status forbids."""

    type = "invalid_request_error"
    default_status = 400


class CardError(PaymentIntentError):
    """The processor declined the attempt; the decline is already recorded on the intent."""

    type = "card_error"
    default_status = 402


class IdempotencyError(PaymentIntentError):
    """An idempotency key was reused with different parameters."""

    type = "idempotency_error"
    default_status = 400


class ConcurrencyError(PaymentIntentError):
    """A concurrent write won: a store raises it on a version or key clash; the service retries."""

    type = "api_error"
    default_status = 409


class StorageUnavailableError(PaymentIntentError):
    """The store failed or could not be reached; nothing was changed, and a retry may succeed."""

    type = "api_error"
    default_status = 503


class ProcessorUnavailableError(PaymentIntentError):
    """The processor did not answer; the attempt stays claimed and a later request settles it."""

    type = "api_error"
    default_status = 502


class AuthenticationError(PaymentIntentError):
    """The caller's API key is missing or wrong (used by the wire layer)."""

    type = "authentication_error"
    default_status = 401


_BY_TYPE: dict[str, type[PaymentIntentError]] = {
    cls.type: cls for cls in (InvalidRequestError, CardError, IdempotencyError, AuthenticationError)
}
_BY_TYPE["api_error"] = ConcurrencyError


def parameter_missing(param: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def parameter_unknown(param: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"Received unknown parameter: {param}", code="parameter_unknown", param=param
    )


def parameter_invalid(
    param: str, message: str, code: str = "parameter_invalid"
) -> InvalidRequestError:
    return InvalidRequestError(message, code=code, param=param)


def resource_missing(param: str, resource: str, resource_id: str) -> InvalidRequestError:
    return InvalidRequestError(
        f"No such {resource}: '{resource_id}'",
        code="resource_missing",
        param=param,
        http_status=404,
    )
