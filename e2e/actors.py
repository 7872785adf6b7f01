"""The people of a flow: a logged-in client with its user ID and email."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gatewright.identity import Client, Org, Role


@dataclass
class Actor:
    """A logged-in person: their identity client (token set), user ID and email."""

    client: Client
    user_id: str
    email: str


Join = Callable[[Org, Role, str], Actor]
"""The `join` fixture: `join(org, role, label)` → a person who was invited with `role`,
accepted and logged in."""
