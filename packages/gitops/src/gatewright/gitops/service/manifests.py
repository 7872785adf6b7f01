"""Manifests: parse and validate the whole set of YAML documents before anything is applied.

A repository path holds `*.yaml` / `*.yml` files, any number of documents each:

    kind: Org                     # Org | Membership | Budget | Route
    metadata: {name: acme}        # a slug, unique per kind
    spec: {owner: admin@example.com}

    kind: Membership
    metadata: {name: acme-bob}
    spec: {org: acme, email: bob@example.com, role: member}   # owner | admin | member | viewer

    kind: Budget
    metadata: {name: acme}
    spec: {org: acme, limit_micro_usd: 5000000, period: monthly}

    kind: Route
    metadata: {name: acme-chat}
    spec: {org: acme, alias: chat, backends: [{url: "http://...", model: sim-echo}],
           input_micro_usd_per_mtok: 1000000, output_micro_usd_per_mtok: 2000000}

The specs reuse the owners' wire rules (identity's `Email` and `Role`, budgets' `Period` and
limit, the gateway's `Backend`, `Alias` and `Price`), so Git accepts exactly what the services
would. A set with any problem (YAML syntax, a YAML alias, unknown kind, missing or mistyped
field, duplicate name, one org with two budgets, two routes with one alias or two memberships of
one email, a reference to an org the set does not declare) yields no manifests at all and every
`Problem` found, each naming the file, the document index (0-based, in the file), the field and
a readable reason.

YAML aliases (`*name`) are refused: they are how a small file expands into a huge one. So are
a key twice in one mapping (YAML would keep the last silently) and nesting deeper than
`MAX_DEPTH`. Parsing uses libyaml (`CSafeLoader`) when it is installed, the pure-Python loader
otherwise; the rules are checked on the composed node graph, the same for both.
`ParseCache` keeps the parse of a commit, so an unchanged revision is not parsed again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gatewright.budgets.models import LimitMicroUsd, Period
from gatewright.gateway.models import MAX_BACKENDS, Alias, Backend, Price
from gatewright.gitops.models import KINDS, Kind, Slug
from gatewright.identity.models import Email, Role

MANIFEST_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Problem:
    """Why the set is invalid, and where."""

    file: str
    document: int | None
    field: str | None
    reason: str


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrgSpec(_Spec):
    """`owner`: the email of an existing user, who owns the org (decision 11)."""

    owner: Email


class MembershipSpec(_Spec):
    """`email` is a member of `org` with `role`: invited when it is not a member yet."""

    org: Slug
    email: Email
    role: Role


class BudgetSpec(_Spec):
    org: Slug
    limit_micro_usd: LimitMicroUsd
    period: Period


class RouteSpec(_Spec):
    """`alias` defaults to the manifest's name."""

    org: Slug
    alias: Alias | None = None
    backends: Annotated[list[Backend], Field(min_length=1, max_length=MAX_BACKENDS)]
    input_micro_usd_per_mtok: Price
    output_micro_usd_per_mtok: Price


_SPECS: dict[Kind, type[_Spec]] = {
    "Org": OrgSpec,
    "Membership": MembershipSpec,
    "Budget": BudgetSpec,
    "Route": RouteSpec,
}


class _Metadata(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Slug


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")

    apiVersion: Literal["gatewright/v1"] | None = None  # noqa: N815 - the YAML key
    kind: str
    metadata: _Metadata
    spec: dict[str, Any]


@dataclass(frozen=True)
class Manifest:
    kind: Kind
    name: str
    spec: Any  # OrgSpec | MembershipSpec | BudgetSpec | RouteSpec, by kind
    file: str
    document: int

    @property
    def where(self) -> str:
        return f"{self.file} document {self.document}"


@dataclass(frozen=True)
class ManifestSet:
    """A valid set, each kind in file order (files sorted by path)."""

    orgs: list[Manifest]
    memberships: list[Manifest]
    budgets: list[Manifest]
    routes: list[Manifest]

    def __len__(self) -> int:
        return len(self.orgs) + len(self.memberships) + len(self.budgets) + len(self.routes)

    def declared(self) -> set[tuple[Kind, str]]:
        """`(kind, name)` of every manifest: what prune compares the inventory with."""
        every = (*self.orgs, *self.memberships, *self.budgets, *self.routes)
        return {(m.kind, m.name) for m in every}


# libyaml's parser and composer when the C extension is there (several times faster than the
# pure-Python one); either way the node graph is checked by `_check_nodes` before anything is
# constructed, so both loaders accept and refuse exactly the same documents.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_DEPTH = 32
"""Deepest nesting of collections a manifest may have (real ones stay under 6)."""


class _Refused(yaml.MarkedYAMLError):
    """A document the manifest rules refuse (an alias, too deep, a duplicate key)."""


def _check_nodes(root: yaml.Node) -> None:
    """Refuse aliases (a node reached twice: how a small file expands into a huge one),
    nesting deeper than `MAX_DEPTH` and duplicate keys in a mapping; iterative, so a hostile
    document cannot exhaust the stack."""
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            raise _Refused(
                None, None, "YAML aliases (*name) are not allowed in manifests", node.start_mark
            )
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            continue
        if depth > MAX_DEPTH:
            reason = f"nested deeper than {MAX_DEPTH} levels"
            raise _Refused(None, None, reason, node.start_mark)
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
            continue
        keys: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in keys:
                    reason = f"duplicate key {key.value!r} in a mapping"
                    raise _Refused(None, None, reason, key.start_mark)
                keys.add(key.value)
            stack.extend(((key, depth + 1), (value, depth + 1)))


def _field(prefix: str, loc: Iterable[Any]) -> str:
    return ".".join([prefix, *(str(part) for part in loc)]) if prefix else ".".join(map(str, loc))


def _yaml_problem(file: str, document: int, exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return Problem(file, document, None, f"YAML syntax error{where}: {problem}")


def _documents(
    file: str, text: str, problems: list[Problem], loader_class: type[yaml.SafeLoader]
) -> list[tuple[int, Any]]:
    found: list[tuple[int, Any]] = []
    index = 0
    loader = loader_class(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:  # an empty document (a trailing `---`) is not a manifest
                _check_nodes(node)
                data = loader.construct_document(node)
                if data is not None:
                    found.append((index, data))
            index += 1
    except yaml.YAMLError as exc:
        problems.append(_yaml_problem(file, index, exc))
    except RecursionError:  # the pure-Python composer recurses per level of nesting
        problems.append(Problem(file, index, None, f"nested deeper than {MAX_DEPTH} levels"))
    finally:
        loader.dispose()
    return found


def _manifest(file: str, index: int, data: Any, problems: list[Problem]) -> Manifest | None:
    if not isinstance(data, dict):
        problems.append(
            Problem(file, index, None, "a manifest must be a mapping (kind, metadata, spec)")
        )
        return None
    try:
        doc = _Document.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(Problem(file, index, _field("", err["loc"]), err["msg"]))
        return None
    if doc.kind not in KINDS:
        known = ", ".join(KINDS)
        problems.append(Problem(file, index, "kind", f"unknown kind {doc.kind!r} (known: {known})"))
        return None
    kind: Kind = doc.kind
    try:
        spec = _SPECS[kind].model_validate(doc.spec)
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(Problem(file, index, _field("spec", err["loc"]), err["msg"]))
        return None
    return Manifest(kind, doc.metadata.name, spec, file, index)


def _cross_check(manifests: list[Manifest], problems: list[Problem]) -> None:
    seen: dict[tuple[str, str], Manifest] = {}
    org_names = {m.name for m in manifests if m.kind == "Org"}
    budget_of: dict[str, Manifest] = {}
    route_of: dict[tuple[str, str], Manifest] = {}
    member_of: dict[tuple[str, str], Manifest] = {}
    for m in manifests:
        first = seen.setdefault((m.kind, m.name), m)
        if first is not m:
            reason = f"duplicate {m.kind} {m.name!r} (first in {first.where})"
            problems.append(Problem(m.file, m.document, "metadata.name", reason))
            continue
        if m.kind == "Org":
            continue
        org = m.spec.org
        if org not in org_names:
            reason = f"{m.kind} {m.name!r} names org {org!r}, which no Org manifest declares"
            problems.append(Problem(m.file, m.document, "spec.org", reason))
            continue
        if m.kind == "Budget":
            other = budget_of.setdefault(org, m)
            if other is not m:
                reason = f"org {org!r} has a Budget already ({other.name!r} in {other.where})"
                problems.append(Problem(m.file, m.document, "spec.org", reason))
        elif m.kind == "Membership":
            email = m.spec.email
            other = member_of.setdefault((org, email), m)
            if other is not m:
                reason = f"org {org!r} has a Membership of {email} already ({other.where})"
                problems.append(Problem(m.file, m.document, "spec.email", reason))
        else:
            alias = m.spec.alias or m.name
            other = route_of.setdefault((org, alias), m)
            if other is not m:
                reason = f"org {org!r} has a Route with alias {alias!r} already ({other.where})"
                problems.append(Problem(m.file, m.document, "spec.alias", reason))


Parsed = tuple[ManifestSet | None, list[Problem]]


def parse(
    files: Iterable[tuple[str, bytes]], *, loader_class: type[yaml.SafeLoader] = _LOADER
) -> Parsed:
    """Every manifest of `(path, content)` files, or None and the problems found.
    `loader_class` is for the tests that hold the C and the Python loader to the same rules."""
    problems: list[Problem] = []
    manifests: list[Manifest] = []
    for file, content in sorted(files):
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem(file, None, None, f"not UTF-8 text (byte {exc.start})"))
            continue
        for index, data in _documents(file, text, problems, loader_class):
            manifest = _manifest(file, index, data, problems)
            if manifest is not None:
                manifests.append(manifest)
    _cross_check(manifests, problems)
    if problems:
        return None, problems
    by_kind = {kind: [m for m in manifests if m.kind == kind] for kind in KINDS}
    return (
        ManifestSet(by_kind["Org"], by_kind["Membership"], by_kind["Budget"], by_kind["Route"]),
        [],
    )


class ParseCache:
    """The parse of a (repository, revision, path) kept for the next reconcile: a commit's
    files never change, so an unchanged Application is parsed once, not every poll. Bounded
    (least recently used first out); shared by the scheduler's worker threads. The parsed set
    is only read by its users, never changed."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._parsed: OrderedDict[tuple[str, str, str], Parsed] = OrderedDict()
        self._lock = threading.Lock()

    def parse(self, key: tuple[str, str, str], files: Iterable[tuple[str, bytes]]) -> Parsed:
        """`parse(files)`, or what it gave for `key` (repository URL, revision, path) before."""
        with self._lock:
            if key in self._parsed:
                self._parsed.move_to_end(key)
                return self._parsed[key]
        parsed = parse(files)
        with self._lock:
            self._parsed[key] = parsed
            while len(self._parsed) > self.size:
                self._parsed.popitem(last=False)
        return parsed
