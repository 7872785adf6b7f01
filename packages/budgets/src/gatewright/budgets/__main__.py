"""`python -m gatewright.budgets`: run the budgets service with settings from the environment."""

from __future__ import annotations


def main() -> None:
    from gatewright.budgets.service import BudgetsSettings, create_app
    from gatewright.servicekit.server import serve

    settings = BudgetsSettings()
    serve(create_app(settings), settings, service="budgets")


if __name__ == "__main__":
    main()
