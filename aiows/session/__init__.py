"""The session layer: the HTTP upgrade through aiohttp, then the hand-over.

The upgrade request goes through ``aiohttp.ClientSession.request``, so the
session's connector pool, proxies, TLS settings, cookies, auth, default
headers, redirects and trace configs all apply.  Once the 101 response is
validated, the upgraded socket is handed to the connection layer.
"""
