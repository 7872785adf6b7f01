"""`python -m gatewright.audit`: run the audit service with settings from the environment."""

from __future__ import annotations


def main() -> None:
    from gatewright.audit.service import AuditSettings, create_app
    from gatewright.servicekit.server import serve

    settings = AuditSettings()
    serve(create_app(settings), settings, service="audit")


if __name__ == "__main__":
    main()
