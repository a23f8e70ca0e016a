"""``python -m payment_intent``: the command line; with no arguments, the scripted demo checkout."""

from payment_intent.cli import main_exit

main_exit()
