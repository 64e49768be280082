"""The faces: one thin class per API over the engine.

:mod:`.aiohttp_face` is aiohttp's ``ClientWebSocketResponse``;
:mod:`.websockets_face` is the connection websockets' ``connect()`` returns.
Each turns the engine's queue and state into its library's semantics.
"""
