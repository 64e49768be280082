"""The asyncio engine: one connection driven on a transport.

It drives the sans-I/O core (:mod:`aiows.core`) and has one part per job:
:mod:`.connection` (the transport's protocol), :mod:`.assembler` (the
receive queue), :mod:`.sendlane` (writes, drain, the fragment lock) and
:mod:`.keepalive`.  It knows no aiohttp; the faces (:mod:`aiows.faces`) give
it an API.
"""
