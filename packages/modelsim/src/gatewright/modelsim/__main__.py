"""`python -m gatewright.modelsim`: run the modelsim service with settings from the environment."""

from __future__ import annotations


def main() -> None:
    from gatewright.modelsim.service import ModelsimSettings, create_app
    from gatewright.servicekit.server import serve

    settings = ModelsimSettings()
    serve(create_app(settings), settings, service="modelsim")


if __name__ == "__main__":
    main()
