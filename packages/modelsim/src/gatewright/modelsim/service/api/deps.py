"""Route dependencies as `Annotated` aliases: the settings and the observation store."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gatewright.modelsim.service.config import ModelsimSettings
from gatewright.modelsim.service.observations import ObservationStore


async def get_settings(request: Request) -> ModelsimSettings:
    settings: ModelsimSettings = request.app.state.settings
    return settings


async def get_observations(request: Request) -> ObservationStore:
    store: ObservationStore = request.app.state.observations
    return store


SettingsDep = Annotated[ModelsimSettings, Depends(get_settings)]
ObservationsDep = Annotated[ObservationStore, Depends(get_observations)]
