"""Fixtures of the session tests: a local CA, and a real HTTP proxy (proxy.py).

* ``tls`` — a trustme CA, a server context with a certificate for 127.0.0.1
  and a client context that trusts the CA.
* ``http_proxy`` — a proxy.py process on 127.0.0.1 requiring Basic auth,
  one per module so that its start-up is paid once.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from yarl import URL

import aiows

PROXY_USER = "proxy-user"
PROXY_PASSWORD = "proxy-secret"
PROXY_START_TIMEOUT = 15.0


@dataclass(frozen=True)
class TLS:
    ca: trustme.CA
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="session")
def tls() -> TLS:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ca.configure_trust(client)
    return TLS(ca, server, client)


@dataclass(frozen=True)
class HttpProxy:
    url: URL
    auth: aiows.BasicAuth
    log: Path


@pytest.fixture(scope="module")
def http_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpProxy]:
    """proxy.py listening on an ephemeral port of 127.0.0.1, Basic auth on."""
    directory = tmp_path_factory.mktemp("proxy")
    port_file = directory / "port"
    log = directory / "proxy.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "proxy",
                "--hostname",
                "127.0.0.1",
                "--port",
                "0",
                "--port-file",
                str(port_file),
                "--num-acceptors",
                "1",
                "--num-workers",
                "1",
                "--basic-auth",
                f"{PROXY_USER}:{PROXY_PASSWORD}",
                "--log-level",
                "WARNING",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=directory,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        # proxy.py writes the port file once its listening socket is bound;
        # a process gives no event to await, so poll it (sync fixture).
        deadline = time.monotonic() + PROXY_START_TIMEOUT
        port = None
        while port is None:
            if process.poll() is not None:
                raise RuntimeError(f"proxy.py exited: {log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"proxy.py did not start: {log.read_text()}")
            text = port_file.read_text() if port_file.exists() else ""
            if text.endswith("\n"):
                port = int(text.split()[0])
            else:
                time.sleep(0.02)
        yield HttpProxy(
            URL.build(scheme="http", host="127.0.0.1", port=port),
            aiows.BasicAuth(PROXY_USER, PROXY_PASSWORD),
            log,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
