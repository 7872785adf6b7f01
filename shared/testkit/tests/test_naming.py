"""Names, passwords and request IDs are deterministic per (seed, test id) and distinct across."""

from __future__ import annotations

import re

from gatewright.testkit import redact
from gatewright.testkit.naming import (
    HARNESS_PREFIX,
    Names,
    RequestIds,
    resolve_seed,
    run_prefix,
    test_slug,
)

TEST_ID = "e2e/test_orgs.py::TestOrgs::test_admin_creates_org[sqlite]"


def test_same_seed_and_test_give_the_same_names() -> None:
    a, b = Names(TEST_ID, "s1"), Names(TEST_ID, "s1")
    assert a.name("org") == b.name("org")
    assert a.email("alice") == b.email("alice")
    assert a.password("alice") == b.password("alice")


def test_different_test_seed_or_kind_give_different_names() -> None:
    base = Names(TEST_ID, "s1")
    other_test = Names(TEST_ID.replace("sqlite", "postgres"), "s1")
    other_seed = Names(TEST_ID, "s2")
    assert base.name("org") != other_test.name("org")
    assert base.name("org") != other_seed.name("org")
    assert base.name("org") != base.name("team")
    assert base.email("alice") != base.email("bob")
    assert base.password("alice") != base.password("bob")
    assert base.password("alice") != other_seed.password("alice")


def test_shapes_are_readable() -> None:
    names = Names(TEST_ID, "s1")
    assert names.slug == "admin-creates-org-sqlite"
    assert re.fullmatch(r"admin-creates-org-sqlite-[0-9a-f]{8}", names.name("org"))
    assert re.fullmatch(
        r"alice\.[0-9a-f]{8}@admin-creates-org-sqlite\.gatewright\.test", names.email("alice")
    )
    password = names.password("alice")
    assert len(password) >= 20
    assert re.search(r"[A-Z]", password)
    assert re.search(r"[a-z]", password)
    assert re.search(r"[0-9]", password)
    assert re.search(r"[^A-Za-z0-9]", password)


def test_passwords_are_registered_for_redaction() -> None:
    password = Names(TEST_ID, "s1").password("alice")
    assert password in redact.registered_secrets()
    assert password not in redact.redact_text(f"login with {password}")


def test_slug_of_odd_names() -> None:
    assert test_slug("t.py::test_x[a/b-1 2]") == "x-a-b-1-2"
    assert test_slug("t.py::test_") == "test"
    assert len(test_slug("t.py::test_" + "a" * 200)) <= 40


def test_request_ids_are_greppable_and_sequential() -> None:
    ids = RequestIds("r1a2b3c", "gw1", TEST_ID)
    first, second = ids(), ids()
    assert re.fullmatch(r"r1a2b3c-gw1-[0-9a-f]{6}-0001", first)
    assert second.endswith("-0002")
    assert second[:-5] == first[:-5]
    assert ids.issued == [first, second]
    assert RequestIds("r1a2b3c", "gw1", "other::test")().split("-")[2] != first.split("-")[2]


def test_seed_resolution() -> None:
    assert resolve_seed("cli", {"GATEWRIGHT_SEED": "env"}) == "cli"
    assert resolve_seed(None, {"GATEWRIGHT_SEED": "env"}) == "env"
    fresh = resolve_seed(None, {})
    assert re.fullmatch(r"[0-9a-f]{8}", fresh)


def test_a_runs_names_and_emails_carry_its_prefix_and_the_tests_hash() -> None:
    prefix = run_prefix("r1a2b3c")
    assert prefix == f"{HARNESS_PREFIX}r1a2b3c-"
    names = Names(TEST_ID, "seed", prefix=prefix)
    other = Names("t.py::test_other", "seed", prefix=prefix)
    assert names.prefix.startswith(prefix)
    assert names.prefix != other.prefix
    assert names.name("org").startswith(names.prefix)
    assert names.email("alice").startswith(names.prefix)
    # Without the prefix the names are what they always were; with it only the prefix differs.
    assert names.name("org") == names.prefix + Names(TEST_ID, "seed").name("org")
    # A long run id (CI's) is cut so an email's local part stays under 64 characters.
    long = Names(TEST_ID, "seed", prefix=run_prefix("ci-" + "9" * 60))
    assert len(long.email("a-very-long-label-for-a-person").split("@")[0]) <= 64
