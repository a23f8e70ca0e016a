"""Adapters for the ports: clocks, stores and the simulated processor."""
