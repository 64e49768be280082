"""The asyncio connection layer: drives the protocol core on a transport.

It owns flow control, keepalive, the closing handshake, timeouts and the
message queue.  It knows nothing of HTTP: the session layer
(:mod:`aiows.session`) performs the upgrade and hands the transport over.
"""
