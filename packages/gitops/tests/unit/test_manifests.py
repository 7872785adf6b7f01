"""Manifest validation: a valid set parses in dependency order; every kind of problem is found,
named by file, document and field, and an invalid set yields no manifests at all."""

from __future__ import annotations

import pytest
import yaml
from gitops_fixtures import BUDGET, MEMBERSHIP, ORG, ROUTE

from gatewright.gitops.service import manifests as manifests_module
from gatewright.gitops.service.manifests import MAX_DEPTH, ParseCache, Problem, parse


def test_a_valid_set_parses_in_dependency_order_across_files() -> None:
    manifests, problems = parse(
        [
            ("b/routes.yaml", ROUTE.encode()),
            ("a/org.yaml", (BUDGET + "---\n" + ORG + "---\n").encode()),
            ("a/people.yaml", MEMBERSHIP.encode()),
            ("README.yaml", b"# only a comment: no document\n"),
        ]
    )
    assert problems == []
    assert manifests is not None
    assert [(m.kind, m.name, m.file, m.document) for m in manifests.orgs] == [
        ("Org", "acme", "a/org.yaml", 1)
    ]
    assert [m.name for m in manifests.budgets] == ["acme"]
    [route] = manifests.routes
    assert route.spec.alias == "chat"
    assert route.spec.backends[0].url == "http://modelsim.test"  # the gateway's own rule
    [member] = manifests.memberships
    assert (member.spec.org, member.spec.email, member.spec.role) == (
        "acme",
        "bob@example.test",  # identity's own rule: emails compare in lower case
        "member",
    )
    assert len(manifests) == 4
    assert manifests.declared() == {
        ("Org", "acme"),
        ("Membership", "acme-bob"),
        ("Budget", "acme"),
        ("Route", "acme-chat"),
    }


@pytest.mark.parametrize(
    ("text", "document", "field", "reason"),
    [
        ("kind: Org\nmetadata: {name: acme\n", 0, None, "YAML syntax error at line"),
        (ORG + "---\nkind: Team\nmetadata: {name: m}\nspec: {}\n", 1, "kind", "unknown kind"),
        (MEMBERSHIP, 0, "spec.org", "no Org manifest declares"),
        (ORG + "---\n" + MEMBERSHIP.replace("role: member", "role: boss"), 1, "spec.role", ""),
        (ORG + "---\n" + MEMBERSHIP.replace("Bob@", "bob at "), 1, "spec.email", ""),
        (ORG + "---\n" + MEMBERSHIP.replace("org: acme,", ""), 1, "spec.org", "Field required"),
        (
            ORG
            + "---\n"
            + MEMBERSHIP
            + "---\n"
            + MEMBERSHIP.replace("role: member", "role: admin"),
            2,
            "metadata.name",
            "duplicate Membership 'acme-bob'",
        ),
        (
            ORG + "---\n" + MEMBERSHIP + "---\n" + MEMBERSHIP.replace("acme-bob", "bob-again"),
            2,
            "spec.email",
            "has a Membership of bob@example.test already",
        ),
        ("kind: Org\nmetadata: {name: acme}\n", 0, "spec", "Field required"),
        (
            "kind: Org\nmetadata: {name: Acme Corp}\nspec: {owner: a@b.test}\n",
            0,
            "metadata.name",
            "",
        ),
        ("kind: Org\nmetadata: {name: acme}\nspec: {owner: not-an-email}\n", 0, "spec.owner", ""),
        (
            "kind: Org\nmetadata: {name: acme}\nspec: {owner: a@b.test, typo: 1}\n",
            0,
            "spec.typo",
            "",
        ),
        (ORG + "---\n" + BUDGET.replace("5000000", '"5000000"'), 1, "spec.limit_micro_usd", ""),
        (ORG + "---\n" + BUDGET.replace("5000000", "5.5"), 1, "spec.limit_micro_usd", ""),
        (ORG + "---\n" + BUDGET.replace("monthly", "weekly"), 1, "spec.period", ""),
        (ORG + "---\n" + ORG, 1, "metadata.name", "duplicate Org 'acme'"),
        (BUDGET, 0, "spec.org", "no Org manifest declares"),
        (
            ORG + "---\n" + BUDGET + "---\n" + BUDGET.replace("name: acme}", "name: again}"),
            2,
            "spec.org",
            "has a Budget already",
        ),
        (
            ORG + "---\n" + ROUTE.replace('url: "http://modelsim.test/"', "url: ftp://x.test"),
            1,
            "spec.backends.0.url",
            "URL scheme",
        ),
        ("- just\n- a list\n", 0, None, "must be a mapping"),
        (
            "base: &b {owner: a@b.test}\nkind: Org\nmetadata: {name: acme}\nspec: *b\n",
            0,
            None,
            "aliases",
        ),
    ],
)
def test_each_problem_names_its_place_and_nothing_is_returned(
    text: str, document: int, field: str | None, reason: str
) -> None:
    manifests, problems = parse([("orgs/acme.yaml", text.encode())])
    assert manifests is None
    assert problems, "an invalid set must report at least one problem"
    first = problems[0]
    assert (first.file, first.document, first.field) == ("orgs/acme.yaml", document, field)
    assert reason in first.reason


def test_every_problem_of_the_set_is_reported_not_only_the_first() -> None:
    _, problems = parse(
        [
            ("a.yaml", b"kind: Org\nmetadata: {name: acme}\nspec: {}\n"),
            ("b.yaml", BUDGET.replace("org: acme", "org: other").encode()),
            ("c.yaml", b"\xff\xfe not utf-8"),
        ]
    )
    assert [(p.file, p.field) for p in problems] == [
        ("a.yaml", "spec.owner"),
        ("c.yaml", None),
        ("b.yaml", "spec.org"),  # cross-checks run once every file is read
    ]
    assert isinstance(problems[0], Problem)
    assert "UTF-8" in problems[1].reason


def test_two_routes_with_one_alias_in_one_org_are_refused() -> None:
    second = ROUTE.replace("name: acme-chat", "name: acme-chat-2")
    _, problems = parse([("r.yaml", (ORG + "---\n" + ROUTE + "---\n" + second).encode())])
    assert [(p.document, p.field) for p in problems] == [(2, "spec.alias")]


HOSTILE = {
    "alias": "base: &b {owner: a@b.test}\nkind: Org\nmetadata: {name: acme}\nspec: *b\n",
    "recursive alias": "kind: Org\nmetadata: {name: acme}\nspec: &s {owner: a@b.test, x: *s}\n",
    "alias bomb": "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nkind: Org\n",
    "duplicate key": "kind: Org\nmetadata: {name: acme}\nspec: {owner: a@b.test}\nspec: {}\n",
    "too deep": "kind: Org\nmetadata: {name: acme}\nspec: {owner: a@b.test, x: "
    + "[" * (MAX_DEPTH + 1)
    + "]" * (MAX_DEPTH + 1)
    + "}\n",
    "far too deep (the Python composer's recursion)": "x: " + "[" * 5000 + "]" * 5000 + "\n",
    "syntax": "kind: Org\nmetadata: {name: acme\n",
}


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="libyaml is not installed")
@pytest.mark.parametrize("what", HOSTILE)
def test_the_c_loader_refuses_what_the_python_loader_refuses(what: str) -> None:
    text = HOSTILE[what]
    files = [("orgs/acme.yaml", (ORG + "---\n" + text).encode())]
    by_loader = {
        loader.__name__: parse(files, loader_class=loader)
        for loader in (yaml.CSafeLoader, yaml.SafeLoader)
    }
    for manifests, problems in by_loader.values():
        assert manifests is None
        assert [(p.file, p.document, p.field) for p in problems] == [("orgs/acme.yaml", 1, None)]
    c_reason, py_reason = (problems[0].reason for _, problems in by_loader.values())
    if what not in ("syntax", "far too deep (the Python composer's recursion)"):
        assert c_reason == py_reason  # our rules, in the same words (libyaml words its own)


def test_the_default_loader_is_libyaml_when_it_is_installed() -> None:
    assert manifests_module._LOADER is (
        yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (HOSTILE["duplicate key"], "duplicate key 'spec'"),
        (HOSTILE["too deep"], f"nested deeper than {MAX_DEPTH} levels"),
        (HOSTILE["alias bomb"], "aliases"),
    ],
)
def test_duplicate_keys_deep_nesting_and_alias_bombs_are_refused(text: str, reason: str) -> None:
    manifests, problems = parse([("orgs/acme.yaml", text.encode())])
    assert manifests is None
    assert reason in problems[0].reason


def test_the_parse_of_a_revision_is_kept_and_a_new_revision_is_parsed() -> None:
    cache = ParseCache(size=2)
    files = [("a.yaml", (ORG + "---\n" + BUDGET).encode())]
    first = cache.parse(("repo", "sha1", "."), files)
    assert first[0] is not None
    assert cache.parse(("repo", "sha1", "."), []) is first  # not parsed again: the same commit
    assert cache.parse(("repo", "sha2", "."), [])[0] is not None  # another commit: parsed
    cache.parse(("repo", "sha3", "."), files)
    again = cache.parse(("repo", "sha1", "."), files)  # bounded: the oldest left, parsed anew
    assert again is not first
    assert again[0] is not None
