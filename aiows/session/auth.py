"""HTTP Basic credentials for the upgrade request.

aiohttp 3.14 deprecates ``aiohttp.BasicAuth`` in favour of an explicit
``Authorization`` header.  aiows keeps ``auth=`` working without the warning:
:class:`BasicAuth` has the same fields and ``encode()``, and aiows sends it as
that header.  aiohttp's own ``BasicAuth`` is accepted too.
"""

from __future__ import annotations

import base64
from typing import NamedTuple, Protocol


class BasicAuth(NamedTuple):
    """Login and password for HTTP Basic authentication (RFC 7617).

    >>> BasicAuth("user", "pass").encode()
    'Basic dXNlcjpwYXNz'
    """

    login: str
    password: str = ""
    encoding: str = "latin1"

    def encode(self) -> str:
        """The ``Authorization`` header value."""
        if ":" in self.login:
            raise ValueError('a Basic auth login may not contain ":" (RFC 7617 §2)')
        raw = f"{self.login}:{self.password}".encode(self.encoding)
        return "Basic " + base64.b64encode(raw).decode(self.encoding)


class Credentials(Protocol):
    """Anything with ``encode()`` giving an ``Authorization`` value."""

    def encode(self) -> str: ...
