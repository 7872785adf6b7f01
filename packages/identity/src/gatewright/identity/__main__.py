"""`python -m gatewright.identity`: run the identity service with settings from the environment."""

from __future__ import annotations


def main() -> None:
    from gatewright.identity.service import IdentitySettings, create_app
    from gatewright.servicekit.server import serve

    settings = IdentitySettings()
    serve(create_app(settings), settings, service="identity")


if __name__ == "__main__":
    main()
