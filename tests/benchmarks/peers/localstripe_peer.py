"""localstripe (GPL, a benchmark peer only): its resource classes in process, or its aiohttp server.

Both variants turn off localstripe's pickling of its whole store to ``/tmp/localstripe.pickle`` on
every write. That file is its way to survive a restart; left on, it makes a checkout cost grow with
everything stored (about 10 ms per checkout at 100 checkouts), so turning it off is the generous
reading of the peer. Its per-checkout cost still grows with its store, so every pass starts from a
flushed store and runs a fixed number of checkouts (``PASS``).

localstripe refuses ``payment_method`` on confirm ("Not implemented"), so its checkout attaches the
card at create and confirms without a body; our HTTP checkout sends the same requests.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

#: Checkouts per pass, from a flushed store (its cost per checkout grows with its store).
PASS = 100

#: The server, without its pickle-on-every-write; ``--from-scratch`` skips loading an old pickle.
SERVER_CODE = (
    "import sys; from localstripe import resources; "
    "resources.Store.dump_to_disk = lambda self: None; "
    "from localstripe.server import start; sys.argv[0] = 'localstripe'; start()"
)


def available() -> str | None:
    """None when localstripe imports, else why it is skipped."""
    try:
        import localstripe.resources  # noqa: F401
    except Exception as error:  # any import failure (a missing or incompatible aiohttp, too)
        why = f"{type(error).__name__}: {error}"
        return f"localstripe not importable ({why}); pip install -e '.[bench]'"
    return None


class InProcess:
    """Drives ``localstripe.resources`` directly, inside an event loop (it schedules webhooks)."""

    def __init__(self) -> None:
        from localstripe import resources

        resources.Store.dump_to_disk = lambda self: None  # see the module docstring
        self.resources = resources
        self.loop = asyncio.new_event_loop()

    def begin_pass(self) -> None:
        self.resources.store.clear()

    async def _checkouts(self, count: int, manual: bool) -> None:
        intents = self.resources.PaymentIntent
        intent = None
        for _ in range(count):
            intent = intents._api_create(
                amount=120_000,
                currency="eur",
                payment_method="pm_card_visa",
                capture_method="manual" if manual else "automatic",
            )
            intents._api_confirm(intent.id)
            if manual:
                intents._api_capture(intent.id, amount_to_capture=100_000)
        if intent is not None and intent.status != "succeeded":
            raise AssertionError(f"localstripe checkout ended in {intent.status}")

    def run(self, count: int, manual: bool) -> None:
        self.loop.run_until_complete(self._checkouts(count, manual))
        # Drop the webhook tasks it scheduled (none are registered, they would only sleep).
        for task in asyncio.all_tasks(self.loop):
            task.cancel()
        self.loop.run_until_complete(asyncio.sleep(0))

    def close(self) -> None:
        self.loop.close()


def start_server(port: int) -> subprocess.Popen[bytes]:
    """localstripe's own server (aiohttp, HTTP/1.1 keep-alive) on ``port``, in another process."""
    return subprocess.Popen(
        [sys.executable, "-c", SERVER_CODE, "--port", str(port), "--from-scratch"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def flush_server(client: Any) -> None:
    """Empty the server's store (its ``DELETE /_config/data``) so every pass starts alike."""
    client.request("DELETE", "/_config/data", None)
