"""Git hosts' webhook formats, as gitops takes them: signing, verifying, and test payloads.

The one place the signature rule lives; the service verifies with `verify_github_signature`, the
client signs with `sign_github` (so a sender and the receiver cannot disagree on a byte).

GitHub signs every delivery with `X-Hub-Signature-256: sha256=<hex>`, the HMAC-SHA256 of the raw
body bytes keyed with the webhook secret. The check is octokit/webhooks-methods' `verify`: the
header must be exactly `sha256=` and 64 hex digits (either case: they decode to the same 32
bytes), and those bytes are compared with the HMAC of the body in constant time. Nothing is
normalized: no re-encoding of the JSON, no trimming of a trailing newline (GitHub's own bodies end
with one, and it is signed). The legacy `X-Hub-Signature: sha1=...` is not accepted.

GitLab does not sign: it sends the secret itself as `X-Gitlab-Token`, compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any, Final

GITHUB_EVENT_HEADER: Final = "X-GitHub-Event"
GITHUB_SIGNATURE_HEADER: Final = "X-Hub-Signature-256"
GITHUB_LEGACY_SIGNATURE_HEADER: Final = "X-Hub-Signature"
GITHUB_DELIVERY_HEADER: Final = "X-GitHub-Delivery"
GITLAB_EVENT_HEADER: Final = "X-Gitlab-Event"
GITLAB_TOKEN_HEADER: Final = "X-Gitlab-Token"  # noqa: S105 - a header name

_SIGNATURE = re.compile(r"sha256=[0-9a-fA-F]{64}")


def sign_github(secret: str | bytes, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body`: `sha256=<lowercase hex>`."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def is_github_signature(value: str) -> bool:
    """Is `value` shaped like a signature (`sha256=` + 64 hex digits), right or wrong?"""
    return _SIGNATURE.fullmatch(value) is not None


def verify_github_signature(secret: str | bytes, body: bytes, signature: str) -> bool:
    """True when `signature` is the HMAC-SHA256 of exactly `body`, compared in constant time."""
    if not is_github_signature(signature):
        return False
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    expected = hmac.new(key, body, hashlib.sha256).digest()
    return hmac.compare_digest(bytes.fromhex(signature[7:]), expected)


def verify_gitlab_token(secret: str, token: str) -> bool:
    """True when `token` is the secret (constant time over the UTF-8 bytes)."""
    return hmac.compare_digest(token.encode("utf-8"), secret.encode("utf-8"))


def github_push_payload(repo_url: str, *, branch: str, sha: str) -> dict[str, Any]:
    """The fields of a GitHub `push` payload that gitops reads, `repo_url` as its clone URL."""
    return {
        "ref": f"refs/heads/{branch}",
        "before": "0" * 40,
        "after": sha,
        "deleted": False,
        "repository": {"clone_url": repo_url, "html_url": repo_url.removesuffix(".git")},
    }


def gitlab_push_payload(repo_url: str, *, branch: str, sha: str) -> dict[str, Any]:
    """The fields of a GitLab `Push Hook` payload that gitops reads."""
    return {
        "object_kind": "push",
        "ref": f"refs/heads/{branch}",
        "before": "0" * 40,
        "after": sha,
        "checkout_sha": sha,
        "project": {"git_http_url": repo_url, "web_url": repo_url.removesuffix(".git")},
        "repository": {"url": repo_url},
    }


__all__ = [
    "GITHUB_DELIVERY_HEADER",
    "GITHUB_EVENT_HEADER",
    "GITHUB_LEGACY_SIGNATURE_HEADER",
    "GITHUB_SIGNATURE_HEADER",
    "GITLAB_EVENT_HEADER",
    "GITLAB_TOKEN_HEADER",
    "github_push_payload",
    "gitlab_push_payload",
    "is_github_signature",
    "sign_github",
    "verify_github_signature",
    "verify_gitlab_token",
]
