"""``python -m payment_intent``: the scripted demo checkout."""

from payment_intent.demo import main

main()
