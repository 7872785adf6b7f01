"""Gatewright test harness: a pytest plugin plus the pieces it is made of.

Where to look (one module per concern):

- `plugin`     options, fixtures (`gw`, `gw_target`, `gw_names`, `gw_flow`, `gw_recorder`,
               `gw_cleanup`), `require_stack`, failure sections, reports
- `target`     `Target`: service URLs + credentials, from a target file, env vars or a stack
- `stack`      `LocalStack`, `ServiceSpec`, `SERVICES`: the local services as subprocesses
- `steps`      `Flow`: Given/When/Then steps with timings
- `recorder`   `ExchangeRecorder`: every HTTP attempt via httpx event hooks, with curl lines
- `eventually` `eventually`, `consistently`, `Outcome`, timeout profiles
- `naming`     `Names`, `RequestIds`, run seed and run id
- `cleanup`    `Cleanup`: LIFO teardown actions
- `redact`     secret masking for everything printed or written
- `artifacts`  per-test files and paths; `report`: the failure text; `htmlreport`: the HTML
               report (timeline, filters, search)
- `audittrail` `AuditTrail`: the audit events of each recorded request ID
- `cioutput`   GitHub Actions annotations and `$GITHUB_STEP_SUMMARY`
- `merge`      shards' runs merged into one (`python -m gatewright.testkit.merge DIR...`)
- `flakes`     runs compared for tests whose outcome varied (`python -m gatewright.testkit.flakes`)
- `pactverify` `serve_in_thread`, `verify_provider`: provider contract tests (import it from
               there; it needs the `contracts` extra: pact-python, uvicorn)
"""

from gatewright.testkit.audittrail import AuditTrail
from gatewright.testkit.cleanup import Cleanup, CleanupFailed
from gatewright.testkit.eventually import (
    TIMEOUT_PROFILES,
    ConsistentlyFailed,
    EventuallyFailed,
    EventuallyTimeout,
    Outcome,
    consistently,
    eventually,
    is_transient,
    profile_timeout,
    timeout_scale,
)
from gatewright.testkit.harness import Harness
from gatewright.testkit.naming import HARNESS_PREFIX, Names, RequestIds, run_prefix
from gatewright.testkit.plugin import require_stack
from gatewright.testkit.recorder import Exchange, ExchangeRecorder
from gatewright.testkit.redact import (
    redact_body,
    redact_headers,
    redact_json,
    redact_text,
    redact_url,
    register_secret,
)
from gatewright.testkit.stack import SERVICES, LocalStack, ServiceSpec, StackError, register_service
from gatewright.testkit.steps import Flow, Step
from gatewright.testkit.target import Target, TargetError

__all__ = [
    "HARNESS_PREFIX",
    "SERVICES",
    "TIMEOUT_PROFILES",
    "AuditTrail",
    "Cleanup",
    "CleanupFailed",
    "ConsistentlyFailed",
    "EventuallyFailed",
    "EventuallyTimeout",
    "Exchange",
    "ExchangeRecorder",
    "Flow",
    "Harness",
    "LocalStack",
    "Names",
    "Outcome",
    "RequestIds",
    "ServiceSpec",
    "StackError",
    "Step",
    "Target",
    "TargetError",
    "consistently",
    "eventually",
    "is_transient",
    "profile_timeout",
    "redact_body",
    "redact_headers",
    "redact_json",
    "redact_text",
    "redact_url",
    "register_secret",
    "register_service",
    "require_stack",
    "run_prefix",
    "timeout_scale",
]
