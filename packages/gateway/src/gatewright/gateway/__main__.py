"""`python -m gatewright.gateway`: run the gateway with settings from the environment.

When `GATEWRIGHT_PUBLIC_URL` is unset and the listening socket is inherited (`GATEWRIGHT_FD`),
the public URL (for identity's revocation hook) is `http://127.0.0.1:<port>` of that socket,
read from a duplicate so the original descriptor stays open for the server.
"""

from __future__ import annotations

import os
import socket


def derived_public_url(fd: int) -> str:
    dup = os.dup(fd)
    with socket.socket(fileno=dup) as sock:
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def main() -> None:
    from gatewright.gateway.service import GatewaySettings, create_app
    from gatewright.servicekit.server import serve

    settings = GatewaySettings()
    if settings.public_url is None:
        if settings.fd is not None:
            settings.public_url = derived_public_url(settings.fd)
        elif settings.port:
            settings.public_url = f"http://{settings.host}:{settings.port}"
    serve(create_app(settings), settings, service="gateway")


if __name__ == "__main__":
    main()
