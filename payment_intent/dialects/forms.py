"""Request bodies as the providers' clients send them: JSON, or forms in bracket notation.

The official SDKs send ``application/x-www-form-urlencoded`` bodies in which nesting is spelled
with brackets (``metadata[period]=2025-02``, ``payment_method_types[0]=card`` or ``[]=card``,
``payment_method_options[card][capture_type]=manual``) and every value is a string. The curl
examples of the seed documents send JSON. Both end up as the same nested dictionary; form strings
are then turned into integers and booleans where the parameter calls for one (:func:`coerce`).

A value that does not read as its type is left as it came, so the service's validation reports it
against the parameter, in the provider's words, instead of this module guessing.
"""

from __future__ import annotations

import json
import re
import types
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin
from urllib.parse import unquote

from pydantic import BaseModel

from payment_intent.domain.errors import InvalidRequestError, parameter_invalid

#: Deepest bracket nesting accepted (``payment_method_options[card][allowed_bins][0]`` is 3).
MAX_DEPTH = 4
#: Most fields a single request may carry.
MAX_FIELDS = 1000

_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")
# ASCII digits only: \d (and str.isdigit) also take other scripts' digits, which int() then
# reads (Arabic-Indic five thousand is 5000) or fails on (a superscript two).
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")


def _is_position(key: str) -> bool:
    """Whether a form key is a list position (``payment_method_types[0]``): ASCII digits."""
    return key.isascii() and key.isdigit() and len(key) < 6


def body_error(message: str) -> InvalidRequestError:
    """A body the server cannot read at all: there is no parameter to blame."""
    return InvalidRequestError(message, code="parameter_invalid")


def decode_json(body: bytes) -> dict[str, Any]:
    """A JSON object body; anything else (an array, a number, broken JSON) is refused."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise body_error("The request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise body_error("The request body must be a JSON object of parameters.")
    return value


def decode_form(body: bytes | str) -> dict[str, Any]:
    """A form (or query string) in bracket notation, as one nested dictionary of strings.

    Lists come out as dictionaries keyed by position (``{"0": "card"}``); :func:`coerce` turns
    them into lists where the parameter is a list, so a metadata key that happens to be ``"0"``
    stays a metadata key.
    """
    if not body:
        return {}
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise body_error("The request body is not valid UTF-8.") from None
    else:
        text = body
    if text.count("&") >= MAX_FIELDS:
        raise body_error(f"A request may carry at most {MAX_FIELDS} parameters.")
    params: dict[str, Any] = {}
    # What urllib.parse.parse_qsl(keep_blank_values=True) reads, without its per-field overhead
    # on the names and values that need no unquoting (nearly all of them).
    for field_ in text.split("&"):
        if not field_:
            continue
        key, _, value = field_.partition("=")
        if "+" in key or "%" in key:
            key = unquote(key.replace("+", " "), errors="replace")
        if "+" in value or "%" in value:
            value = unquote(value.replace("+", " "), errors="replace")
        if "[" in key or "]" in key:
            _assign(params, key, value)
        elif isinstance(params.get(key), dict):
            raise parameter_invalid(key, f"Invalid {key}: cannot be both a value and a hash.")
        else:
            params[key] = value
    return params


def _assign(params: dict[str, Any], key: str, value: str) -> None:
    match = _KEY.fullmatch(key)
    if match is None:
        # Not bracket notation at all: keep the name as sent, so it is reported as unknown.
        params[key] = value
        return
    name = match.group(1)
    segments = _SEGMENT.findall(match.group(2))
    if len(segments) > MAX_DEPTH:
        raise parameter_invalid(name, f"Parameters can be nested at most {MAX_DEPTH} levels deep.")
    container = params
    path = [name, *segments]
    for depth, segment in enumerate(path[:-1]):
        label = _label(path[: depth + 1])
        if segment == "" and depth > 0:
            segment = str(len(container))
        child = container.setdefault(segment, {})
        if not isinstance(child, dict):
            raise parameter_invalid(label, f"Invalid {label}: cannot be both a value and a hash.")
        container = child
    leaf = path[-1]
    if leaf == "" and len(path) > 1:
        leaf = str(len(container))
    if isinstance(container.get(leaf), dict):
        label = _label(path)
        raise parameter_invalid(label, f"Invalid {label}: cannot be both a value and a hash.")
    container[leaf] = value


def _label(path: list[str]) -> str:
    return path[0] + "".join(f"[{p}]" for p in path[1:])


# -- coercion ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListOf:
    """A list parameter whose items have the given type."""

    item: Spec


@dataclass(frozen=True, slots=True)
class OneOf:
    """A value that is either a scalar of ``scalar`` type or a hash of ``fields`` (``created``)."""

    scalar: Spec
    fields: dict[str, Spec]


INT = "int"
BOOL = "bool"
STR = "str"

Spec = str | ListOf | OneOf | dict[str, "Spec"]


def coerce(value: Any, spec: Spec) -> Any:
    """Read form strings as the types ``spec`` names; leave whatever does not fit untouched."""
    if spec == INT:
        if isinstance(value, str) and _INTEGER.fullmatch(value):
            return int(value)
        return value
    if spec == BOOL:
        if isinstance(value, str) and value in ("true", "false"):
            return value == "true"
        return value
    if isinstance(spec, ListOf):
        if isinstance(value, dict) and all(_is_position(k) for k in value):
            ordered = sorted(value.items(), key=lambda item: int(item[0]))
            return [coerce(item, spec.item) for _, item in ordered]
        return value
    if isinstance(spec, OneOf):
        if isinstance(value, dict):
            return coerce(value, spec.fields)
        return coerce(value, spec.scalar)
    if isinstance(spec, dict):
        if isinstance(value, dict):
            return {k: coerce(v, spec[k]) if k in spec else v for k, v in value.items()}
        return value
    return value


def form_spec(model: type[BaseModel]) -> dict[str, Spec]:
    """How to read each non-string parameter of ``model`` from form strings, from the model's own
    field types: the parameter models are the one declaration of each parameter's type."""
    spec: dict[str, Spec] = {}
    for name, info in model.model_fields.items():
        found = _spec(info.annotation)
        if found is not None:
            spec[name] = found
    return spec


def _spec(annotation: Any) -> Spec | None:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _spec(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
        models = [arg for arg in options if isinstance(arg, type) and issubclass(arg, BaseModel)]
        scalars = [arg for arg in options if arg not in models]
        if models and scalars:
            scalar = _spec(scalars[0])
            return OneOf(scalar if scalar is not None else STR, form_spec(models[0]))
        return _spec(options[0]) if len(options) == 1 else None
    if origin is list:
        item = _spec(get_args(annotation)[0])
        return ListOf(item if item is not None else STR)
    if annotation is bool:
        return BOOL
    if annotation is int:
        return INT
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return form_spec(annotation)
    return None
