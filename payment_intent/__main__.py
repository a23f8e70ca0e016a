"""``python -m payment_intent``: the command line; with no arguments, the scripted demo checkout."""

import sys

from payment_intent.cli import main

sys.exit(main())
