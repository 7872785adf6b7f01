"""`python -m gatewright.gitops`: run the gitops service with settings from the environment."""

from __future__ import annotations


def main() -> None:
    from gatewright.gitops.service import GitopsSettings, create_app
    from gatewright.servicekit.server import serve

    settings = GitopsSettings()
    serve(create_app(settings), settings, service="gitops")


if __name__ == "__main__":
    main()
