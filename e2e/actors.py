"""The people of a flow: a logged-in client with its user ID and email."""

from __future__ import annotations

from dataclasses import dataclass

from gatewright.identity import Client


@dataclass
class Actor:
    """A logged-in person: their identity client (token set), user ID and email."""

    client: Client
    user_id: str
    email: str
