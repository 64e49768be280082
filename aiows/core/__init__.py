"""The sans-I/O protocol core of aiows.

Everything in this package turns bytes into events and events into bytes.
It imports nothing from asyncio or aiohttp, so each rule of RFC 6455 and
RFC 7692 can be tested with byte strings alone.  The asyncio layer
(:mod:`aiows.connection`) drives it; the session layer (:mod:`aiows.session`)
sits on top of that.
"""
