"""Reading the seed documents themselves: their curl examples and their example JSON objects.

The tests replay what the documents say, not a transcription of it, so a change to a seed shows
up as a failing test.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SEEDS = Path(__file__).parent / "seeds"
CASAPAY = SEEDS / "casapay-payment-intents.txt"
PAYREX = SEEDS / "payrex-payment-intents.txt"


@dataclass(frozen=True)
class CurlExample:
    """One curl command of a seed: method, path, query string, headers and body, exactly."""

    title: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


def curl_examples(path: Path) -> list[CurlExample]:
    text = path.read_text(encoding="utf-8")
    return [
        _parse(_title_before(text, start), _command_at(text, start))
        for start in (m.start() for m in re.finditer(r"^curl ", text, re.M))
    ]


def _command_at(text: str, start: int) -> str:
    """The curl command starting at ``start``: up to an unescaped newline outside quotes, or up to
    a closing quote glued to the next text (the documents run the response on after it)."""
    quote = ""
    i = start
    while i < len(text):
        char = text[i]
        if quote:
            if char == quote:
                quote = ""
                if i + 1 < len(text) and not text[i + 1].isspace():
                    return text[start : i + 1]
        elif char in "'\"":
            quote = char
        elif char == "\n" and text[i - 1] != "\\":
            return text[start:i]
        i += 1
    return text[start:]


def _title_before(text: str, position: int) -> str:
    titles = re.findall(r"([A-Z][a-z]+ (?:a )?PaymentIntents?)#", text[:position])
    return titles[-1] if titles else ""


def _parse(title: str, command: str) -> CurlExample:
    words = shlex.split(command.replace("\\\n", " "))
    assert words[0] == "curl"
    method, url, headers, body = "", "", {}, b""
    i = 1
    while i < len(words):
        word = words[i]
        if word == "-X":
            method, i = words[i + 1], i + 2
        elif word == "-H":
            name, _, value = words[i + 1].partition(":")
            headers[name.strip()] = value.strip()
            i += 2
        elif word == "-d":
            body, i = words[i + 1].encode("utf-8"), i + 2
        else:
            url, i = word, i + 1
    parts = urlsplit(url)
    return CurlExample(
        title=title,
        method=method or ("POST" if body else "GET"),
        path=parts.path,
        query=parts.query,
        headers=headers,
        body=body,
    )


def example_objects(path: Path) -> list[dict[str, Any]]:
    """Every JSON object the document shows that starts with an ``id`` (an API object)."""
    text = path.read_text(encoding="utf-8")
    objects = []
    for match in re.finditer(r'\{\s*"id"', text):
        block = _balanced(text, match.start())
        # The PayRex document has a trailing comma inside one hash; JSON does not allow it.
        objects.append(json.loads(re.sub(r",(\s*\})", r"\1", block)))
    return objects


def _balanced(text: str, start: int) -> str:
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    raise ValueError("unbalanced JSON in a seed document")


def payrex_endpoints(path: Path = PAYREX) -> list[tuple[str, str]]:
    """The endpoint table of the PayRex document: (method, path with ``:id``)."""
    text = path.read_text(encoding="utf-8")
    return re.findall(r"^\| (GET|POST|PUT|DELETE) (\S+) \|", text, re.M)
