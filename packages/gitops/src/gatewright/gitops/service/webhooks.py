"""Webhook deliveries: which host sent one, is it genuine, and which Applications it concerns.

No I/O here (the route `api/routes/hooks.py` reads the request and the store); each step is a
function the unit tests call directly:

1. `identify(headers)`: GitHub (`X-GitHub-Event`) or GitLab (`X-Gitlab-Event`), else 400.
2. `authenticate(host, headers, body, secret)`: None when genuine, else a `Rejection` (a code for
   the audit event and a sentence for the 401). GitHub: `X-Hub-Signature-256` over the raw bytes
   (`gatewright.gitops._hooks`, octokit's rule); GitLab: `X-Gitlab-Token` equal to the secret.
3. `read(host, event, payload)`: a `Push` (ref, revision, the repository's URLs), or the reason
   to ignore the delivery (a tag push, another event), or `Ping`; a push missing its fields is a
   422 naming them.
4. `matches(push, sources)`: the Applications whose repository URL is one of the push's
   (`normalize_repo_url`) and whose branch is the pushed one.

Repository URLs are compared normalized: no scheme or credentials (`https://`, `ssh://git@`,
`git@host:` and `git://` name the same repository), host in lower case, no port, no trailing
`/` or `.git`. Path case is kept (hosts differ on it). A local path and `file://` + that path
are the same A URL no parser takes (`http://[::1/x`: a bracket never closed) is compared as
given, so it matches only itself: neither a push naming one nor an Application holding one
(gitops accepts any URL git might fetch) makes a delivery fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from gatewright.gitops._hooks import (
    GITHUB_EVENT_HEADER,
    GITHUB_LEGACY_SIGNATURE_HEADER,
    GITHUB_SIGNATURE_HEADER,
    GITLAB_EVENT_HEADER,
    GITLAB_TOKEN_HEADER,
    is_github_signature,
    verify_github_signature,
    verify_gitlab_token,
)
from gatewright.servicekit import ServiceError

Host = Literal["github", "gitlab"]
_PRINTABLE = re.compile(r"[^\x20-\x7e]")
_SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?([^/:]+):(?!//)(.+)$")
_BRANCH_REF = "refs/heads/"
_TAG_REF = "refs/tags/"


def printable(value: str, limit: int = 100) -> str:
    """A header value fit for a log line or an audit event: ASCII-printable, bounded."""
    return _PRINTABLE.sub("?", value)[:limit]


# -- 1. which host ---------------------------------------------------------------------------
def identify(headers: Mapping[str, str]) -> tuple[Host, str]:
    """`(host, event)` from the event header; 400 when there is none, or both."""
    github = headers.get(GITHUB_EVENT_HEADER)
    gitlab = headers.get(GITLAB_EVENT_HEADER)
    if (github is None) == (gitlab is None):
        raise ServiceError(
            400,
            "unknown_webhook",
            f"Not a webhook this service reads: send GitHub's {GITHUB_EVENT_HEADER} or GitLab's "
            f"{GITLAB_EVENT_HEADER} header (exactly one of them).",
        )
    if github is not None:
        return "github", printable(github.strip())
    assert gitlab is not None
    return "gitlab", printable(gitlab.strip())


# -- 2. genuine? -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Rejection:
    """Why a delivery is not genuine: `code` for the audit event, `message` for the caller."""

    code: str
    message: str


def authenticate(
    host: Host, headers: Mapping[str, str], body: bytes, secret: str
) -> Rejection | None:
    if host == "github":
        signature = headers.get(GITHUB_SIGNATURE_HEADER)
        if signature is None:
            if headers.get(GITHUB_LEGACY_SIGNATURE_HEADER) is not None:
                return Rejection(
                    "signature_sha1_only",
                    f"Only {GITHUB_LEGACY_SIGNATURE_HEADER} (SHA-1) was sent; this service "
                    f"needs {GITHUB_SIGNATURE_HEADER} (HMAC-SHA256 of the body).",
                )
            return Rejection(
                "signature_missing",
                f"The delivery is not signed: {GITHUB_SIGNATURE_HEADER} is missing (set the "
                "webhook's secret on GitHub to GATEWRIGHT_WEBHOOK_SECRET).",
            )
        if not is_github_signature(signature.strip()):
            return Rejection(
                "signature_malformed",
                f"{GITHUB_SIGNATURE_HEADER} must be 'sha256=' and 64 hex digits.",
            )
        if not verify_github_signature(secret, body, signature.strip()):
            return Rejection(
                "signature_mismatch",
                f"{GITHUB_SIGNATURE_HEADER} does not match the body: it was signed with "
                "another secret, or the body changed on the way.",
            )
        return None
    token = headers.get(GITLAB_TOKEN_HEADER)
    if token is None:
        return Rejection(
            "token_missing",
            f"{GITLAB_TOKEN_HEADER} is missing (set the webhook's secret token on GitLab to "
            "GATEWRIGHT_WEBHOOK_SECRET).",
        )
    if not verify_gitlab_token(secret, token):
        return Rejection("token_mismatch", f"{GITLAB_TOKEN_HEADER} is not this service's secret.")
    return None


# -- 3. what it says -------------------------------------------------------------------------
class _Payload(BaseModel):
    # Hosts send far more than this reads, and add fields over time: ignore the rest.
    model_config = ConfigDict(extra="ignore")


class _GithubRepository(_Payload):
    clone_url: str | None = None
    ssh_url: str | None = None
    git_url: str | None = None
    html_url: str | None = None
    url: str | None = None


class _GithubPush(_Payload):
    ref: str
    after: str | None = None
    repository: _GithubRepository


class _GitlabProject(_Payload):
    git_http_url: str | None = None
    git_ssh_url: str | None = None
    web_url: str | None = None
    http_url: str | None = None
    ssh_url: str | None = None
    url: str | None = None


class _GitlabRepository(_Payload):
    url: str | None = None
    homepage: str | None = None
    git_http_url: str | None = None
    git_ssh_url: str | None = None


class _GitlabPush(_Payload):
    ref: str
    after: str | None = None
    checkout_sha: str | None = None
    project: _GitlabProject | None = None
    repository: _GitlabRepository | None = None


@dataclass(frozen=True)
class Push:
    ref: str
    branch: str | None  # None: not a branch (a tag, or another kind of ref)
    revision: str | None
    urls: frozenset[str]  # normalized


@dataclass(frozen=True)
class Ignored:
    reason: str


@dataclass(frozen=True)
class Ping:
    pass


def _invalid(host: Host, exc: ValidationError) -> ServiceError:
    errors = [
        {"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")}
        for e in exc.errors()
    ]
    fields = ", ".join(".".join(map(str, e["loc"])) or "body" for e in errors[:5])
    return ServiceError(
        422,
        "validation_failed",
        f"This {host} push payload lacks what a push has ({fields}).",
        details={"errors": errors},
    )


def _urls(values: Iterable[str | None]) -> frozenset[str]:
    return frozenset(normalize_repo_url(v) for v in values if isinstance(v, str) and v.strip())


def read(host: Host, event: str, payload: Any) -> Push | Ignored | Ping:
    """What the delivery asks for; 422 when a push lacks its fields."""
    if host == "github":
        if event == "ping":
            return Ping()
        if event != "push":
            return Ignored(f"GitHub event {event!r} is not a push; only pushes trigger a refresh")
        try:
            gh = _GithubPush.model_validate(payload)
        except ValidationError as exc:
            raise _invalid(host, exc) from None
        r = gh.repository
        urls = _urls([r.clone_url, r.ssh_url, r.git_url, r.html_url, r.url])
        ref, revision = gh.ref, gh.after
    else:
        if event == "Tag Push Hook":
            return Ignored("a tag push: Applications follow branches")
        if event != "Push Hook":
            return Ignored(f"GitLab event {event!r} is not a push; only pushes trigger a refresh")
        try:
            gl = _GitlabPush.model_validate(payload)
        except ValidationError as exc:
            raise _invalid(host, exc) from None
        p, r2 = gl.project, gl.repository
        urls = _urls(
            [
                *(
                    (p.git_http_url, p.git_ssh_url, p.web_url, p.http_url, p.ssh_url, p.url)
                    if p
                    else ()
                ),
                *((r2.url, r2.homepage, r2.git_http_url, r2.git_ssh_url) if r2 else ()),
            ]
        )
        ref, revision = gl.ref, gl.checkout_sha or gl.after
    if not urls:
        raise ServiceError(
            422,
            "validation_failed",
            f"This {host} push payload names no repository URL.",
            details={"errors": [{"loc": ["repository"], "msg": "no repository URL"}]},
        )
    if ref.startswith(_TAG_REF):
        return Ignored("a tag push: Applications follow branches")
    branch = ref[len(_BRANCH_REF) :] if ref.startswith(_BRANCH_REF) else None
    if not branch:
        return Ignored(f"ref {printable(ref)!r} is not a branch")
    return Push(ref=ref, branch=branch, revision=revision, urls=urls)


# -- 4. which Applications -------------------------------------------------------------------
def normalize_repo_url(url: str) -> str:
    """The repository `url` names, as one comparable string (see the module docstring)."""
    text = url.strip()
    host = ""
    if "://" in text:
        try:
            parts = urlsplit(text)
        except ValueError:  # e.g. an IPv6 host whose bracket never closes
            return text  # compared as given: equal only to the same text, never a 500
        path = unquote(parts.path)
        if parts.scheme.lower() != "file":
            host = (parts.hostname or "").lower()
    elif (m := _SCP_LIKE.match(text)) is not None:
        host, path = m.group(1).lower(), m.group(2)  # git@host:owner/repo.git
    else:
        path = text  # a local path
    path = path.rstrip("/")
    path = path.removesuffix(".git").rstrip("/")
    if host:
        path = "/" + path.lstrip("/")
    return host + path


@dataclass(frozen=True)
class Source:
    """What matching needs of one Application."""

    name: str
    repo_url: str
    branch: str


def matches(push: Push, sources: Iterable[Source]) -> list[str]:
    """Names of the Applications that follow the pushed repository and branch, sorted."""
    return sorted(
        s.name
        for s in sources
        if s.branch == push.branch and normalize_repo_url(s.repo_url) in push.urls
    )
