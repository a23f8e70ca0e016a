"""Benchmark peers: the alternatives to this library, each doing the same checkout.

A checkout is the one every contender runs: create an intent for 120,000 (eur), confirm it with a
card, and for manual capture capture 100,000 of the hold; the automatic variant stops at confirm
(succeeded). Each peer module exposes contenders (see ``tests/benchmarks/contenders.py``); a peer
whose package is missing reports why instead of disappearing from the table.
"""
