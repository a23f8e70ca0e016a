"""Stripe's OpenAPI schemas (the trimmed copy beside this file) as JSON Schema validators.

OpenAPI 3.0 says ``nullable: true`` where JSON Schema says ``"type": [..., "null"]``, and refers to
``#/components/schemas/x``; :func:`to_json_schema` rewrites both. Stubs (schemas the trimmed copy
did not keep) accept any object. ``x-stripeBypassValidation`` marks an enum Stripe itself says not
to validate against (a payment method's ``type``), so its enum is dropped.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_FILE = Path(__file__).parent / "schema" / "stripe_payment_intent_schema.json"
#: The two versions the copy holds: the shape with ``charges``, and the one with
#: ``latest_charge``.
OLDER, NEWER = "2020-08-27", "2026-07-29.dahlia"


@cache
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return data


def version(name: str) -> dict[str, Any]:
    found: dict[str, Any] = reference()["versions"][name]
    return found


def to_json_schema(node: Any) -> Any:
    """One OpenAPI 3.0 schema (and everything under it) as JSON Schema."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "x-stub" in node:
        return {"type": "object"}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-") or key in ("nullable", "format", "title"):
            continue
        if key == "$ref":
            out[key] = value.replace("#/components/schemas/", "#/$defs/")
        elif key in ("properties", "$defs"):
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key == "required" and not isinstance(value, list):
            continue
        else:
            out[key] = to_json_schema(value)
    if node.get("x-stripeBypassValidation"):
        out.pop("enum", None)
    # A request parameter's "properties" is a list of names, not schemas: not a response schema.
    if isinstance(node.get("properties"), list):
        out.pop("properties", None)
    if node.get("nullable"):
        if "type" in out and "anyOf" not in out and "$ref" not in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def validator(version_name: str, component: str) -> jsonschema.Draft202012Validator:
    """A validator of one component (``payment_intent``, ``charge``, ``error``…) of a version."""
    schemas = version(version_name)["components"]["schemas"]
    root = {
        "$defs": {name: to_json_schema(schema) for name, schema in schemas.items()},
        "$ref": f"#/$defs/{component}",
    }
    jsonschema.Draft202012Validator.check_schema(root)
    return jsonschema.Draft202012Validator(root)


@cache
def list_validator(version_name: str) -> jsonschema.Draft202012Validator:
    """The list object of ``GET /v1/payment_intents``."""
    schemas = version(version_name)["components"]["schemas"]
    root = {
        "$defs": {name: to_json_schema(schema) for name, schema in schemas.items()},
        **to_json_schema(version(version_name)["list_response"]),
    }
    return jsonschema.Draft202012Validator(root)


def errors_of(validator_: jsonschema.Draft202012Validator, body: Any) -> list[str]:
    """Every way ``body`` breaks the schema, as readable lines (empty: it conforms)."""
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(top)'}: {error.message[:300]}"
        for error in validator_.iter_errors(body)
    ]


def always_present(version_name: str, component: str) -> frozenset[str]:
    """The properties Stripe's own fixture of the object carries: present on every object it
    sends, ``null`` when unused."""
    keys = version(version_name)[f"fixture_{component}_keys"]
    return frozenset(keys)
