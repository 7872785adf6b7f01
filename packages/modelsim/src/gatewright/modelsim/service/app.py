"""`create_app(settings)`: the modelsim FastAPI app. Nothing runs at import time.

No auth and no database: the only state is the observation ring buffer, in `app.state`.
"""

from __future__ import annotations

import importlib.metadata

from fastapi import FastAPI

from gatewright.modelsim.service.api.routes import chat, models, observations
from gatewright.modelsim.service.config import ModelsimSettings
from gatewright.modelsim.service.observations import ObservationStore
from gatewright.servicekit import create_service_app

# The distribution's version, from the one VERSION file at the root (decision 18).
VERSION = importlib.metadata.version("gatewright-modelsim")


def create_app(settings: ModelsimSettings) -> FastAPI:
    seen = ObservationStore(settings.observations_max)
    return create_service_app(
        service="modelsim",
        version=VERSION,
        description="Deterministic OpenAI-compatible model backend with fault injection by "
        "model name, and observations of the requests it received.",
        routers=[chat.router, models.router, observations.router],
        state={
            "settings": settings,
            "observations": seen,
        },
        # A body refused at the door (hostile JSON, not JSON) still reached the backend.
        on_body_rejected=seen.record_rejected,
    )
