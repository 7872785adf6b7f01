"""Pact participant and provider-state names for contracts where modelsim is the provider.

modelsim has no consumer pact of its own: the gateway writes `contracts/gateway-modelsim.json`
("what the gateway needs from any OpenAI-compatible backend") and modelsim's provider test
verifies it. Both sides import these names, so a renamed state breaks both at once instead of
silently verifying nothing. Behaviour is chosen by model name, so the states mostly document
intent; the provider's handlers reset observations and check that the named model really
behaves as the state says.
"""

from typing import Final

PROVIDER: Final = "modelsim"

# Provider states. Each takes one parameter, `model`: the model name the interaction uses.
STATE_MODEL_EXISTS: Final = "a backend model exists"
"""params: model — a model that answers normally (`sim-echo`, or any other plain `sim-*`)."""
STATE_MODEL_FAILS_503: Final = "the backend model fails with 503"
"""params: model — a model that answers 503 `backend_unavailable` (`sim-fail-503`)."""
STATE_MODEL_FAILS_500: Final = "the backend model fails with 500"
"""params: model — a model that answers 500 `backend_error` (`sim-fail-500`)."""

ALL_STATES: Final = (STATE_MODEL_EXISTS, STATE_MODEL_FAILS_503, STATE_MODEL_FAILS_500)
