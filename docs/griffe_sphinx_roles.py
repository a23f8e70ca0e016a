"""A Griffe extension for the API reference: the code's docstrings cross-reference with Sphinx
roles (``:class:`~payment_intent.Store```, ``:meth:`make_store```); turn them into links the
MkDocs site resolves (``[Store][payment_intent.Store]``), or into code where the name is relative.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):`(?P<tilde>~?)(?P<target>[^`]+)`")


def _link(match: re.Match[str]) -> str:
    target = match["target"]
    if not target.startswith("payment_intent."):
        # A relative name (``make_store``, ``StoreContract.make_store``): code, not a link the
        # site could not resolve.
        return f"`{target.rsplit('.', 1)[-1] if match['tilde'] else target}`"
    shown = target.rsplit(".", 1)[-1] if match["tilde"] else target
    return f"[`{shown}`][{target}]"


class SphinxRoles(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(_link, obj.docstring.value)
