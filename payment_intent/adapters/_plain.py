"""Pydantic models as tuples of plain values: the in-memory store's compact, fast rows.

:mod:`marshal` is the fastest serialiser in the standard library and writes small bytes, but it
takes only exact built-in types. A model therefore becomes the tuple of its field values in
declared order, with enums as their values and nested models as tuples. Decoding rebuilds the
models without validation (:func:`~payment_intent.domain.model.trusted`): only the store wrote
these rows, from models that were valid. The conversions are worked out once per class from its
annotations, and a field of a type this module does not know fails at import, not at run time.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from enum import Enum
from operator import itemgetter
from typing import Any, Generic, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel

from payment_intent.domain.model import FrozenDict

M = TypeVar("M", bound=BaseModel)
Convert = Callable[[Any], Any]

_ATOMS = (str, int, bool)


class Codec(Generic[M]):
    """Encodes instances of one model class to plain tuples and decodes them back."""

    def __init__(self, cls: type[M]) -> None:
        self.cls = cls
        self.names = tuple(cls.model_fields)
        getter = itemgetter(*self.names)
        # itemgetter of one name returns the bare value, of several a tuple.
        self._values = getter if len(self.names) > 1 else lambda values: (getter(values),)
        self._special: list[tuple[int, Convert]] = []
        self._decoders: list[tuple[str, Convert]] = []
        #: Per field that needs one, the function that makes its (non-None) values plain.
        self.field_encoders: dict[str, Convert] = {}
        for index, (name, field) in enumerate(cls.model_fields.items()):
            conversion = _conversion(field.annotation, f"{cls.__name__}.{name}")
            if conversion is not None:
                self._special.append((index, conversion[0]))
                self._decoders.append((name, conversion[1]))
                self.field_encoders[name] = conversion[0]

    def encode(self, model: M) -> tuple[Any, ...]:
        """The model's field values as plain data (``marshal``-able)."""
        values: tuple[Any, ...] = self._values(model.__dict__)
        if not self._special:
            return values
        plain = list(values)
        for index, encode in self._special:
            value = plain[index]
            if value is not None:
                plain[index] = encode(value)
        return tuple(plain)

    def decode(self, plain: tuple[Any, ...]) -> M:
        """The model back from :meth:`encode`'s output."""
        values = dict(zip(self.names, plain, strict=True))
        for name, decode in self._decoders:
            value = values[name]
            if value is not None:
                values[name] = decode(value)
        return self.cls.model_construct(**values)


def _conversion(annotation: Any, where: str) -> tuple[Convert, Convert] | None:
    """How a field's values become plain data and back; ``None`` when they already are."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(options) != 1:
            raise TypeError(f"{where}: only X | None unions are supported")
        return _conversion(options[0], where)
    if origin is Literal:
        if all(
            isinstance(arg, _ATOMS) and not isinstance(arg, Enum) for arg in get_args(annotation)
        ):
            return None
        raise TypeError(f"{where}: only literals of plain values are supported")
    if origin is tuple:
        args = get_args(annotation)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"{where}: only tuple[X, ...] is supported")
        item = _conversion(args[0], where)
        if item is None:
            return None
        encode_item, decode_item = item
        return (
            lambda values: tuple(map(encode_item, values)),
            lambda values: tuple(map(decode_item, values)),
        )
    if origin is dict:
        key, value = get_args(annotation)
        if key is str and value is str:
            return dict, FrozenDict
        raise TypeError(f"{where}: only dict[str, str] is supported")
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        members = {member.value: member for member in annotation}
        return (lambda member: member._value_), members.__getitem__
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        codec: Codec[Any] = Codec(annotation)
        return codec.encode, codec.decode
    if annotation in _ATOMS:
        return None
    raise TypeError(f"{where}: no plain form for {annotation!r}")
