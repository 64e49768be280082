"""Benchmark harness comparing aiows with aiohttp, websockets, picows and itself.

Not part of the installed package.  Run ``python -m benchmarks --help``;
see ``benchmarks/README.md`` for what is measured and how.
"""
