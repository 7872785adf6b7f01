"""The access-token signer: one Ed25519 key (JWT alg EdDSA), its `kid`, and the public JWKS.

The key is generated on first start and kept under the data dir as PKCS#8 PEM with mode 0600.
It is written to a temporary file and hard-linked into place, so two processes starting at once
both end up with the one key that won the link. `kid` is the RFC 7638 JWK thumbprint.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gatewright.servicekit.auth import JWT_AUDIENCE, JWT_ISSUER, verify_jwt

KEY_FILE = "identity-signing-key.pem"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _load_or_create_key(path: Path) -> Ed25519PrivateKey:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
            # If another process won the race, its key is the one loaded below.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


class TokenIssuer:
    """Signs access tokens and verifies them; also the `TokenVerifier` the routes depend on."""

    def __init__(self, key: Ed25519PrivateKey, *, ttl_seconds: int) -> None:
        self._key = key
        self._public: Ed25519PublicKey = key.public_key()
        self.ttl_seconds = ttl_seconds
        raw = self._public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self._x = _b64url(raw)
        canonical = json.dumps(
            {"crv": "Ed25519", "kty": "OKP", "x": self._x}, separators=(",", ":"), sort_keys=True
        )
        self.kid = _b64url(hashlib.sha256(canonical.encode()).digest())

    @classmethod
    def from_data_dir(cls, data_dir: Path, *, ttl_seconds: int) -> TokenIssuer:
        return cls(_load_or_create_key(data_dir / KEY_FILE), ttl_seconds=ttl_seconds)

    def issue(self, *, user_id: str, email: str) -> str:
        now = int(time.time())
        claims = {
            "sub": user_id,
            "email": email,
            "iss": JWT_ISSUER,
            "aud": JWT_AUDIENCE,
            "iat": now,
            "exp": now + self.ttl_seconds,
        }
        return jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self.kid})

    def verify(self, token: str) -> dict[str, Any]:
        """Claims of a valid token; any failure is a 401 ServiceError (servicekit's rules)."""
        return verify_jwt(token, lambda kid: self._public if kid == self.kid else None)

    def jwks(self) -> dict[str, Any]:
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": self._x, "kid": self.kid}
        return {"keys": [{**jwk, "use": "sig", "alg": "EdDSA"}]}
