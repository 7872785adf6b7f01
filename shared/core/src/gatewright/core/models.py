"""Base for wire models: tolerant of fields a newer provider adds, and carrying the request ID."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, PrivateAttr


class APIModel(BaseModel):
    """A response or request model.

    Client models declare only the fields they use and ignore the rest, so a provider can add
    fields without breaking consumers. `request_id` is the `X-Request-ID` of the response the
    model was parsed from (empty for models built by hand).
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    _request_id: str = PrivateAttr(default="")

    @property
    def request_id(self) -> str:
        return self._request_id
