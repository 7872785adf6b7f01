"""Redaction: a table of inputs and what must (not) survive."""

from __future__ import annotations

import json

import pytest

from gatewright.testkit.redact import (
    MASK,
    redact_body,
    redact_headers,
    redact_json,
    redact_text,
    redact_url,
    register_secret,
)

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c3JfMSJ9.c2lnbmF0dXJlLXNpZw"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("key is gwk_live_0123456789abcdef", "gwk_live_0123456789abcdef"),
        ("Authorization: Bearer abcdefgh12345678", "abcdefgh12345678"),
        ("Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        (f"token {JWT} expired", JWT),
        ("GET /cb?access_token=s3cr3tvalue&x=1", "s3cr3tvalue"),
        ("password=hunter2hunter2&user=a", "hunter2hunter2"),
    ],
)
def test_patterns_are_masked_in_text(text: str, secret: str) -> None:
    out = redact_text(text)
    assert secret not in out
    assert MASK in out


def test_innocent_text_is_kept() -> None:
    text = "Basic plan: the bearer of this note, 40 tokens, budget_exceeded"
    assert redact_text(text) == text


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("Authorization", True),
        ("Cookie", True),
        ("Set-Cookie", True),
        ("X-Api-Key", True),
        ("X-Service-Token", True),
        ("X-Gitlab-Token", True),
        ("X-Hub-Signature-256", True),
        ("X-GitHub-Event", False),
        ("X-Request-ID", False),
        ("Content-Type", False),
    ],
)
def test_headers(name: str, masked: bool) -> None:
    value = "Bearer topsecretvalue1" if name == "Authorization" else "topsecretvalue1"
    out = redact_headers({name: value})
    assert ("topsecretvalue1" not in out[name]) is masked


def test_authorization_keeps_its_scheme() -> None:
    assert redact_headers([("authorization", "Bearer abc")]) == {"authorization": "Bearer ***"}


def test_json_keys_at_any_depth() -> None:
    body = {
        "email": "a@b.test",
        "password": "pw-1",
        "nested": [{"client_secret": "cs"}, {"api_key": "k"}, {"refresh_token": "rt"}],
        "access_token": "at",
        "token_type": "bearer",
        "usage": {"total_tokens": 12},
    }
    out = redact_json(body)
    assert out["email"] == "a@b.test"
    assert out["password"] == MASK
    assert out["nested"] == [{"client_secret": MASK}, {"api_key": MASK}, {"refresh_token": MASK}]
    assert out["access_token"] == MASK
    assert out["token_type"] == "bearer"
    assert out["usage"] == {"total_tokens": 12}


def test_registered_secret_anywhere_including_escaped_forms() -> None:
    secret = 'p@ss "w0rd"/x'
    register_secret(secret)
    assert secret not in redact_text(f"msg: {secret}!")
    as_json = json.dumps({"note": f"was {secret}"})
    assert "w0rd" not in redact_body(as_json)
    assert "w0rd" not in redact_url("http://h/x?q=p%40ss%20%22w0rd%22%2Fx")


def test_short_values_are_not_registered() -> None:
    register_secret("ab")
    assert redact_text("ab cd") == "ab cd"


def test_url_userinfo_and_query() -> None:
    out = redact_url("https://user:pw@host/p?token=abc&page=2")
    assert "pw@" not in out
    assert "abc" not in out
    assert "page=2" in out


def test_body_sample_is_truncated_after_redaction() -> None:
    out = redact_body(json.dumps({"password": "x" * 50, "data": "y" * 5000}), limit=100)
    assert "xxxx" not in out
    assert out.startswith('{"password": "***"')
    assert "more characters" in out
    assert redact_body(b"\xff\xfe\x00") == "<3 bytes of binary data>"
    assert redact_body(b"") == ""


# Hostile tests send hostile bodies: their samples must still be writable as UTF-8 artifacts.
@pytest.mark.parametrize(
    "body",
    [
        b'{"content": "\\ud800", "password": "hunter2-secret"}',  # a lone surrogate escape
        b"[" * 5000 + b"]" * 5000,  # past the JSON parser's recursion limit
        b'{"a": ' * 400 + b'"gwk_' + b"s" * 40 + b'"' + b"}" * 400,  # past redact_json's
    ],
    ids=["surrogate", "deep-array", "deep-object"],
)
def test_a_hostile_body_sample_is_valid_utf8_and_still_redacted(body: bytes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from gatewright.testkit.artifacts import write_json

    sample = redact_body(body, limit=100_000)
    sample.encode("utf-8")  # no lone surrogate left
    assert "hunter2-secret" not in sample
    assert "gwk_" + "s" * 40 not in sample
    write_json(tmp_path / "x.json", {"sample": sample, "raw": "\ud800"})
    assert "\\ud800" in (tmp_path / "x.json").read_text(encoding="utf-8")
