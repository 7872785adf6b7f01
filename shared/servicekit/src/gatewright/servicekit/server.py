"""`serve`: run a service app with uvicorn, on host/port or on a socket inherited from a launcher.

The launcher (testkit's stack) binds port 0 itself and passes the listening socket down as a file
descriptor, so there is no window in which another process can take the port.
"""

from __future__ import annotations

import importlib.util
import socket

import uvicorn
from fastapi import FastAPI

from gatewright.servicekit.logging import configure_logging
from gatewright.servicekit.settings import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings, *, service: str) -> None:
    configure_logging(service, settings.log_level)
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop=loop,
        http=http,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    sockets = None
    if settings.fd is not None:
        # socket(fileno=) reads family, type and protocol back from the descriptor, so asyncio
        # sees IPPROTO_TCP and sets TCP_NODELAY (uvicorn's own fd path assumes AF_UNIX).
        sockets = [socket.socket(fileno=settings.fd)]
    uvicorn.Server(config).run(sockets=sockets)
