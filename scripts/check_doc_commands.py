"""Check every `nox -s … -- …` command README.md and docs/ show, cheaply, and every marker.

A command is a console-block line or an inline code span that starts with `nox ` and passes
posargs (`--`); one with a `…` placeholder is a pattern, not a command. For each command nox
runs its sessions without their prerequisites and with `--collect-only -q` appended: nox must
succeed and every pytest run must select at least one flow. The prerequisites those commands
pull in (the contract stage that `e2e` requires) then run for real, once, with the posargs of
all of them at once, which is what nox hands a prerequisite: they must pass and collect nothing
(they run whole, whatever the selection). Last, each marker registered in pyproject.toml must
select at least one e2e flow, except those in LATER (registered before their flows exist), which
must select none until their flows and docs arrive.

Three kinds of command get a check of their own, as cheap: a sharded one (`--splits N --group K`)
also collects every other group and the whole suite, and the groups must be disjoint and together
exactly the suite; a flake hunt (`nox -s flake -- --runs N`) runs with `--runs 2`; a merge
(`nox -s report -- merge DIR...`) merges the runs the documented shard commands collect into those
folders, and must write one summary.

    python scripts/check_doc_commands.py    # what `nox -s docs` runs (with the nox of this python)
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Markers registered before their flows exist; the docs must not offer them as working yet.
LATER: dict[str, str] = {}
CHEAP = ["--collect-only", "-q"]
INLINE = re.compile(r"`(nox [^`]*)`")
COLLECTED = re.compile(r"(?:no tests|(\d+)(?:/\d+)? tests?) collected")
NODEID = re.compile(r"^(e2e/\S+?::.+?)\s*$", re.MULTILINE)  # an id may hold spaces
DOCS_ARTIFACTS = ROOT / "artifacts" / "docs"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class Command:
    where: str  # file:line
    argv: list[str]  # starts with "nox"

    def __str__(self) -> str:
        return shlex.join(self.argv)

    @property
    def options(self) -> list[str]:
        return self.argv[1 : self.argv.index("--")]

    @property
    def posargs(self) -> list[str]:
        return self.argv[self.argv.index("--") + 1 :]


def documented_commands() -> list[Command]:
    """Every `nox … -- …` command of README.md and docs/**/*.md, in file order."""
    commands: list[Command] = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        in_block = False
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            text = line.strip()
            if text.startswith("```"):
                in_block = not in_block
                continue
            candidates = [text] if in_block else INLINE.findall(line)
            for candidate in candidates:
                if not candidate.startswith("nox ") or "…" in candidate:
                    continue  # not nox, or a pattern with a placeholder
                argv = shlex.split(candidate, comments=True)
                if "--" in argv:
                    where = f"{path.relative_to(ROOT)}:{number}"
                    commands.append(Command(where, argv))
    return commands


def registered_markers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    lines: list[str] = config["tool"]["pytest"]["ini_options"]["markers"]
    return [line.split(":", 1)[0].strip() for line in lines]


def run_nox(args: list[str], artifacts: Path = DOCS_ARTIFACTS) -> tuple[int, str, list[int]]:
    """Run nox (this interpreter's) with `args`; its exit code, output and collected counts.

    Its JUnit and run folders go to artifacts/docs/, so the real runs' files stay as they were.
    """
    out = subprocess.run(
        # Reused venvs skip their installs (the default run made them; a new one still
        # installs): each documented command costs its run, not a reinstall.
        [sys.executable, "-m", "nox", "--reuse-venv=yes", "--no-install", *args],
        cwd=ROOT,
        env={**os.environ, "GATEWRIGHT_ARTIFACTS": str(artifacts)},
        capture_output=True,
        text=True,
        check=False,
    )
    output = ANSI.sub("", out.stdout + out.stderr)
    counts = [int(m.group(1) or 0) for m in COLLECTED.finditer(output)]
    return out.returncode, output, counts


def planned(options: list[str]) -> tuple[list[str], list[str]]:
    """The sessions nox runs for these options: all of them, and only the requested ones."""
    plans: list[list[str]] = []
    for extra in ([], ["--no-dependencies"]):
        out = subprocess.run(
            [sys.executable, "-m", "nox", *options, *extra, "--list", "--json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise ValueError(ANSI.sub("", out.stderr).strip())
        plans.append([entry["session"] for entry in json.loads(out.stdout)])
    return plans[0], plans[1]


def tail(output: str, lines: int = 60) -> str:
    return "\n".join(output.splitlines()[-lines:])


def _option(posargs: list[str], name: str) -> str | None:
    """The value of `--name V` or `--name=V` in posargs."""
    for n, arg in enumerate(posargs):
        if arg == name and n + 1 < len(posargs):
            return posargs[n + 1]
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    return None


def _without_split(posargs: list[str]) -> list[str]:
    kept: list[str] = []
    skip = False
    for arg in posargs:
        if skip:
            skip = False
        elif arg in ("--splits", "--group"):
            skip = True
        elif not arg.startswith(("--splits=", "--group=")):
            kept.append(arg)
    return kept


def collected_ids(command: Command, posargs: list[str]) -> tuple[int, set[str], str]:
    args = ["--no-dependencies", *command.options, "--", *posargs, *CHEAP]
    code, output, _ = run_nox(args)
    return code, set(NODEID.findall(output)), output


def check_shards(command: Command) -> str | None:
    """The groups of a sharded command: disjoint, and together exactly the suite."""
    splits = int(_option(command.posargs, "--splits") or 0)
    rest = _without_split(command.posargs)
    code, whole, output = collected_ids(command, rest)
    if code != 0 or not whole:
        return f"the unsharded suite did not collect (exit {code}):\n{tail(output)}"
    seen: dict[str, int] = {}
    for group in range(1, splits + 1):
        code, ids, output = collected_ids(
            command, [*rest, "--splits", str(splits), "--group", str(group)]
        )
        if code != 0 or not ids:
            return f"group {group} of {splits} collected nothing (exit {code}):\n{tail(output)}"
        for nodeid in ids:
            if nodeid in seen:
                return f"{nodeid} is in group {seen[nodeid]} and group {group}"
            seen[nodeid] = group
    if set(seen) != whole:
        missing = sorted(whole - set(seen))[:10]
        extra = sorted(set(seen) - whole)[:10]
        return f"the groups are not the suite: missing {missing}, extra {extra}"
    print(f"ok   {command.where}: {splits} groups are exactly the suite ({len(whole)} flows)")
    return None


def check_merge(command: Command, shards: list[Command]) -> str | None:
    """`report -- merge DIR...`: the documented shard commands' runs collected into those
    folders (under artifacts/docs/), then merged into one summary."""
    folders = [arg for arg in command.posargs[1:] if not arg.startswith("-")]
    if not shards or len(folders) != len(shards):
        return f"{len(folders)} folders to merge but {len(shards)} documented shard commands"
    base = DOCS_ARTIFACTS / "merge"
    for folder, shard in zip(folders, shards, strict=True):
        where = base / folder
        args = ["--no-dependencies", *shard.options, "--", *shard.posargs, *CHEAP]
        code, output, _ = run_nox(args, artifacts=where)
        if code != 0:
            return f"`{shard}` into {where} (exit {code}):\n{tail(output)}"
    out = base / "merged"
    args = ["-s", "report", "--", "merge", *(str(base / f) for f in folders), "--out", str(out)]
    code, output, _ = run_nox(args)
    if code != 0 or not (out / "summary.json").is_file():
        return f"`{command}` did not merge (exit {code}):\n{tail(output)}"
    print(f"ok   {command.where}: {command} merged {len(folders)} shard runs")
    return None


def cheap_posargs(command: Command, requested: list[str]) -> list[str]:
    """The posargs a command is checked with: a flake hunt compares two runs, not N."""
    posargs = list(command.posargs)
    if "flake" in requested and "--runs" in posargs:
        posargs[posargs.index("--runs") + 1] = "2"
    return [*posargs, *CHEAP]


def main() -> int:
    failures: list[str] = []
    commands = documented_commands()
    # The documented shard commands, each split and group once (README and guide repeat some).
    shard_commands: list[Command] = []
    for command in commands:
        if _option(command.posargs, "--splits") is not None and not any(
            c.argv == command.argv for c in shard_commands
        ):
            shard_commands.append(command)
    if not commands:
        failures.append("no `nox -s … -- …` command found in README.md or docs/")
    # Each prerequisite session, and the commands that pull it in.
    prerequisites: dict[str, list[Command]] = {}
    split_checked: list[list[str]] = []
    for command in commands:
        try:
            everything, requested = planned(command.options)
        except ValueError as exc:
            print(f"FAIL {command.where}: {command}: nox refuses it")
            failures.append(f"{command.where}: `{command}`: {exc}")
            continue
        for name in everything:
            if name not in requested:
                prerequisites.setdefault(name, []).append(command)
        if requested == ["report"] and command.posargs[:1] == ["merge"]:
            problem = check_merge(command, shard_commands)
            if problem:
                print(f"FAIL {command.where}: {command}")
                failures.append(f"{command.where}: `{command}`: {problem}")
            continue
        args = ["--no-dependencies", *command.options, "--", *cheap_posargs(command, requested)]
        code, output, counts = run_nox(args)
        selected = ", ".join(str(n) for n in counts) or "nothing"
        verdict = code == 0 and bool(counts) and min(counts) > 0
        print(f"{'ok  ' if verdict else 'FAIL'} {command.where}: {command} -> {selected} selected")
        if not verdict:
            failures.append(f"{command.where}: `{command}` (exit {code}):\n{tail(output)}")
        elif (
            _option(command.posargs, "--splits")
            and _without_split(command.posargs) not in split_checked
        ):
            # Every group of one split is checked at once, so once per selection is enough.
            split_checked.append(_without_split(command.posargs))
            problem = check_shards(command)
            if problem:
                print(f"FAIL {command.where}: {command}: the shards are not the suite")
                failures.append(f"{command.where}: `{command}`: {problem}")
    for name, pulled_by in prerequisites.items():
        posargs = [arg for command in pulled_by for arg in command.posargs]
        code, output, counts = run_nox(["-s", name, "--", *posargs, *CHEAP])
        verdict = code == 0 and not counts
        print(
            f"{'ok  ' if verdict else 'FAIL'} {name} (required by {len(pulled_by)} of them) "
            f"ran whole beside their posargs: {shlex.join(posargs)}"
        )
        if not verdict:
            failures.append(
                f"`{name}`, a prerequisite, must run whole and ignore posargs (exit {code}, "
                f"collected {counts}):\n{tail(output)}"
            )
    for marker in registered_markers():
        code, output, counts = run_nox(
            ["--no-dependencies", "-s", "e2e", "--", "-m", marker, *CHEAP]
        )
        total = sum(counts)
        if marker in LATER:
            verdict = bool(counts) and total == 0
            note = f"later ({LATER[marker]})"
        else:
            verdict = code == 0 and total > 0
            note = f"{total} flows"
        print(f"{'ok  ' if verdict else 'FAIL'} marker {marker}: {note}")
        if not verdict:
            hint = (
                f"`{marker}` now selects {total} flows: document it and drop it from LATER"
                if marker in LATER
                else f"`-m {marker}` selects no e2e flow (exit {code})"
            )
            failures.append(f"{hint}:\n{tail(output, 30)}")
    for failure in failures:
        print(f"\n{failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
