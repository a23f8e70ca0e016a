"""The pure domain: statuses, the transition table, the aggregate, profiles, events and errors.

Nothing here imports storage, HTTP or a clock; time and processor outcomes are passed in.
"""
