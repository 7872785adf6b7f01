"""The gateway's completion engine, one module per job (PLATFORM.md §5):

- `seams`: the Protocols of identity and budgets a completion needs (`IdentityAPI`,
  `BudgetsAPI`); the real clients and their owners' doubles satisfy them.
- `routecache`: `RouteTable`, route lookups with a short per-replica cache.
- `plan`: `Plan`, a priced and reserved request (its bounds, deadline and attempts), and
  `max_tokens_for`, the `max_tokens` sent upstream.
- `pipeline`: `Gateway`, the numbered steps from the API key to the settled bill.
- `failures`: the errors a completion answers with when it cannot be served.
- `events`: the `completion.create` and `completion.denied` audit events.
- `metering`: `Meter`, a backend stream relayed to the client and billed for what it streamed.
- `responses`: the responses that settle their bill once they are out.
"""

from gatewright.gateway.service.engine.pipeline import Gateway
from gatewright.gateway.service.engine.plan import Plan
from gatewright.gateway.service.engine.responses import MeteredStream, SettlingJSONResponse
from gatewright.gateway.service.engine.routecache import RouteTable
from gatewright.gateway.service.engine.seams import BudgetsAPI, IdentityAPI

__all__ = [
    "BudgetsAPI",
    "Gateway",
    "IdentityAPI",
    "MeteredStream",
    "Plan",
    "RouteTable",
    "SettlingJSONResponse",
]
