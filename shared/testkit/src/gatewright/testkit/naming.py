"""Deterministic names, secrets and request IDs derived from the run seed and the test id.

Everything a test creates is named from `(seed, test id, kind)`, so a run is reproducible with
`--gw-seed` and every resource says which test made it:

- `Names(test_id, seed).name("org")`     -> `login-works-3f2a1c9e`
- `Names(...).email("alice")`            -> `alice.5be07d21@login-works.gatewright.test`

In a run the plugin gives every test the run's prefix and the test's hash,
`Names(test_id, seed, prefix=run_prefix(run_id))`: `gwt-r1a2b3-9c8d7e-login-works-3f2a1c9e`,
`gwt-r1a2b3-9c8d7e-alice.5be07d21@...`. So whatever a run makes (orgs, routes, keys, users)
says which run and which test made it, and cleanup or a sweep finds it by prefix
(`HARNESS_PREFIX` for every run, `run_prefix(run_id)` for one, `Names.prefix` for one test).
- `Names(...).password("alice")`         -> a strong secret, the same on every run with that seed
- `RequestIds(run_id, worker, test_id)()`-> `r1a2b3c-gw0-3f2a1c-0001` (greppable in service logs)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import os
import re
import secrets
import threading

from gatewright.testkit.redact import register_secret

SEED_ENV = "GATEWRIGHT_SEED"
RUN_ID_ENV = "GATEWRIGHT_RUN_ID"
EMAIL_DOMAIN = "gatewright.test"
_SLUG_MAX = 40
# What every name a harness run creates starts with (a sweep looks for it).
HARNESS_PREFIX = "gwt-"
_RUN_IN_PREFIX_MAX = 12  # keeps an email's local part under 64 characters


def run_prefix(run_id: str) -> str:
    """`gwt-<run id>-`: what every name of this run starts with."""
    return f"{HARNESS_PREFIX}{_slugify(run_id, _RUN_IN_PREFIX_MAX)}-"


def new_seed() -> str:
    """A fresh random seed: 8 hex digits, short enough to type back in with `--gw-seed`."""
    return secrets.token_hex(4)


def new_run_id() -> str:
    """A short run id, `r` + 6 hex digits; it prefixes every request ID and the artifacts dir."""
    return "r" + secrets.token_hex(3)


def resolve_seed(option: str | None, environ: dict[str, str] | None = None) -> str:
    """The seed from the option, else `GATEWRIGHT_SEED`, else a fresh one."""
    env = os.environ if environ is None else environ
    return option or env.get(SEED_ENV) or new_seed()


def resolve_run_id(environ: dict[str, str] | None = None) -> str:
    """The run id from `GATEWRIGHT_RUN_ID` (CI may set it), else a fresh one."""
    env = os.environ if environ is None else environ
    value = env.get(RUN_ID_ENV, "")
    return _slugify(value) if value else new_run_id()


def short_hash(*parts: str, length: int = 6) -> str:
    """Hex digest prefix of the parts joined unambiguously."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return digest[:length]


def _slugify(text: str, max_len: int = _SLUG_MAX) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    slug = slug[:max_len].rstrip("-")
    return slug or "test"


def test_slug(test_id: str) -> str:
    """A readable slug from a pytest node id: `tests/test_a.py::TestX::test_login[admin]` ->
    `login-admin` (the function name and its parameters, without the `test_` prefix)."""
    name = test_id.split("::")[-1]
    name = re.sub(r"^test_?", "", name)
    return _slugify(name)


test_slug.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


class Names:
    """Names, emails and passwords for one test, unique per (seed, test id, kind/label)."""

    def __init__(self, test_id: str, seed: str, *, prefix: str = "") -> None:
        self.test_id = test_id
        self.seed = seed
        self.slug = test_slug(test_id)
        self.test_hash = short_hash(test_id)
        # Every name and email of this test starts with it (empty: no prefix at all).
        self.prefix = f"{prefix}{self.test_hash}-" if prefix else ""

    def _hash(self, *parts: str, length: int = 8) -> str:
        return short_hash(self.seed, self.test_id, *parts, length=length)

    def name(self, kind: str = "") -> str:
        """`<prefix><slug>-<short hash>`; the hash covers the seed, the test id and `kind`."""
        return f"{self.prefix}{self.slug[:30].rstrip('-')}-{self._hash('name', kind)}"

    def email(self, label: str = "user") -> str:
        """`<prefix><label>.<hash>@<slug>.gatewright.test` (the reserved `.test` TLD never
        delivers)."""
        local = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")[:20] or "user"
        return f"{self.prefix}{local}.{self._hash('email', label)}@{self.slug}.{EMAIL_DOMAIN}"

    def password(self, label: str = "user") -> str:
        """A strong secret from hmac(seed, test id, label); registered for redaction."""
        mac = hmac.new(
            self.seed.encode(), f"{self.test_id}\x1f{label}".encode(), hashlib.sha256
        ).digest()
        body = base64.urlsafe_b64encode(mac).decode().rstrip("=")[:24]
        value = f"Gw{body}-9!"  # upper, lower, digit and symbol whatever the digest says
        register_secret(value)
        return value


class RequestIds:
    """Callable request-ID factory: `<run id>-<worker>-<short hash of test id>-<seq>`.

    Pass it as `request_id_factory=` to a client; the client calls it once per logical call and
    reuses the ID across retries, so one ID names one user action.
    """

    def __init__(self, run_id: str, worker: str, test_id: str) -> None:
        self.prefix = f"{run_id}-{worker}-{short_hash(test_id)}"
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self.issued: list[str] = []

    def __call__(self) -> str:
        with self._lock:
            rid = f"{self.prefix}-{next(self._seq):04d}"
            self.issued.append(rid)
        return rid
