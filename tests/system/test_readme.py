"""The README's examples (and those of the pages of docs/ in PAGES), run as a newcomer would: their `console`
blocks, in order, against a real server (`uvicorn main:app`) on a copy of the shipped sample (SAMPLE), with the
clock pinned at the moment the examples were written. Each `$ ` line (with its `\\` continuation lines) is run
by bash in the project's folder; what the page shows under it must be what the command printed, but for:

- `…`, which stands for any text (a whole line when it is alone on one);
- times (`2026-11-28T18:20:19Z`) and ETags (`"1f4c…"`), which may differ: an ETag shown in an answer stands
  for the one the service gave, also in the commands that follow (an `If-Match` copied from an answer);
- the headers of `curl -i`: those shown must be there, in that order, among the others (date, server…);
- a remark at the end of a shown line, after three spaces and `# ` (`{"detail":…}   # 400`).

A `$ VAR=value uvicorn main:app` line starts the server again with those settings (one that refuses to start
prints what it says). An example that drifts from the code fails here, with the command, what the page shows
and what it printed."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, required_or_skip, running_server

# The sample as shipped: a copy of tickets.json, so that a user who edited theirs still gets a green suite
# (.ci/run checks, on a clean checkout, that the two are the same file).
SAMPLE = ROOT / "tests" / "data" / "sample.json"
NOW = "2026-11-28T18:20:19Z"  # when the README's tour was written: a Saturday evening in Paris
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
ETAG_TOKEN = r'\\?"[0-9a-f]{24}\\?"'  # an ETag in its quotes, or in escaped quotes inside a JSON string
README_BASE = "http://127.0.0.1:8000"
REMARK = re.compile(r"\s{3,}# .*$")  # `   # 400` after a shown line: a remark for the reader, not output


@dataclass
class Example:
    command: str
    shown: list[str]
    line: int  # where the command is in the README


def examples(text: str) -> list[Example]:
    """The README's console examples, in order."""
    found: list[Example] = []
    block: list[tuple[int, str]] | None = None
    indent = 0  # a block inside a list item is indented: its lines are read without that indentation
    for number, line in enumerate(text.splitlines(), start=1):
        if block is None:
            if line.strip() == "```console":
                block, indent = [], len(line) - len(line.lstrip())
            continue
        if line.strip() == "```":
            found += _commands(block)
            block = None
        else:
            block.append((number, line[indent:] if line[:indent].isspace() else line))
    return found


def _commands(block: list[tuple[int, str]]) -> list[Example]:
    found: list[Example] = []
    lines = iter(block)
    for number, line in lines:
        if line.startswith("$ "):
            command = line[2:]
            while command.endswith("\\"):
                command = command[:-1] + " " + next(lines)[1].strip()
            found.append(Example(command, [], number))
        elif found:
            found[-1].shown.append(line)
    for example in found:
        while example.shown and not example.shown[-1].strip():
            example.shown.pop()
    return found


def expected(shown: list[str]) -> re.Pattern[str]:
    """What an example shows, as a pattern of what the command may print."""
    parts: list[str] = []
    named: set[str] = set()  # the ETags captured already: the same value again
    headers = bool(shown) and shown[0].startswith("HTTP/")
    for n, line in enumerate(shown):
        if headers and n > 0 and not line.strip():
            headers = False  # the end of the headers: the body follows
            parts.append(r"(?:[^\n]*\n)*?\n")
            continue
        if line.strip() == "…":
            parts.append(r"(?:[^\n]*\n)*?")
            continue
        if headers and n > 0:
            parts.append(r"(?:[^\n]*\n)*?")  # the headers not shown, before this one
        parts.append(_line(line, named) + r"\n")
    if headers:  # no body shown (a 204, a 304): the other headers, then the blank line
        parts.append(r"(?:[^\n]*\n)*?")
    return re.compile("".join(parts) + r"\Z")


def _line(line: str, named: set[str]) -> str:
    line = REMARK.sub("", line)
    pattern, at = "", 0
    for token in re.finditer("…|" + TIME.pattern + "|" + ETAG_TOKEN, line):
        pattern += re.escape(line[at : token.start()])
        text = token.group()
        if text == "…":
            pattern += r".*?"
        elif TIME.fullmatch(text):
            pattern += TIME.pattern
        else:  # an ETag, quoted (or quoted inside a JSON string): captured under its README value
            quote = '\\"' if text.startswith("\\") else '"'
            value = text.strip('\\"')
            group = f"(?P=e_{value})" if value in named else f"(?P<e_{value}>[0-9a-f]{{24}})"
            named.add(value)
            pattern += re.escape(quote) + group + re.escape(quote)
        at = token.end()
    return pattern + re.escape(line[at:])


@dataclass
class Sandbox:
    folder: Path
    stack: ExitStack
    base: str = ""
    etags: dict[str, str] = field(default_factory=dict)  # the README's ETag -> the one the service gave
    names: dict[str, str] = field(default_factory=dict)  # a text of the page -> the one run (and back in answers)

    def serve(self, env: dict[str, str]) -> None:
        self.stack.close()
        url = env.get("TICKETS_DATABASE_URL")
        store = url if url is not None else self.folder / "tickets.json"
        self.base = self.stack.enter_context(running_server(store, env=self.env(env)))

    def env(self, more: dict[str, str] | None = None) -> dict[str, str]:
        if more and "TICKETS_DATABASE_URL" in more:
            return {"TICKETS_NOW": NOW, **more}
        return {"TICKETS_NOW": NOW, "TICKETS_FILE": str(self.folder / "tickets.json"), **(more or {})}

    def run(self, example: Example) -> str:
        command = example.command
        for shown, actual in [*self.etags.items(), *self.names.items()]:
            command = command.replace(shown, actual)
        starting = re.fullmatch(r"((?:\w+=\S*\s+)*)uvicorn main:app", command.strip())
        if starting:
            try:
                self.serve(dict(pair.split("=", 1) for pair in shlex.split(starting.group(1))))
                return ""
            except RuntimeError:  # it refuses to start (a bad setting): what it says, as in a terminal
                command = f"{command} --port 0"
        command = command.replace(README_BASE, self.base)
        bindir = str(Path(sys.executable).parent)
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=ROOT,
            env={
                "PATH": f"{bindir}:/usr/bin:/bin:/usr/sbin:/sbin",
                "LANG": "C.UTF-8",
                "HOME": str(self.folder),
                **self.env(),
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        printed = (done.stdout + done.stderr).replace("\r\n", "\n").replace(self.base, README_BASE)
        for shown, actual in self.names.items():
            printed = printed.replace(actual, shown)
        return printed


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    if shutil.which("curl") is None:
        required_or_skip("the README's examples need curl: sudo apt-get install curl")
    shutil.copy(SAMPLE, tmp_path / "tickets.json")
    # curl draws a progress meter when its output is not a terminal (here, a pipe): silent, as in a terminal
    (tmp_path / ".curlrc").write_text("silent\nshow-error\n")
    with ExitStack() as stack:
        box = Sandbox(tmp_path, stack)
        box.serve({})
        yield box
        box.stack.close()


def test_the_readme_examples_print_what_the_readme_shows(sandbox: Sandbox) -> None:
    runnable = examples((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(runnable) >= 10, "the README's tour has lost its examples"
    run_in_order(sandbox, "README.md", runnable)


# The pages of docs/ whose examples are run the same way, each from the shipped sample (the PostgreSQL steps have
# their own test below). webhooks.md's is a fragment that cannot run alone (a receiver to start beside the server).
PAGES = [
    "docs/cli.md",
    "docs/api.md",
    "docs/comments.md",
    "docs/configuration.md",
    "docs/help-desk.md",
    "docs/idempotency.md",
]


@pytest.mark.parametrize("page", PAGES)
def test_the_examples_of_docs_print_what_they_show(sandbox: Sandbox, page: str) -> None:
    runnable = examples((ROOT / page).read_text(encoding="utf-8"))
    assert runnable, f"{page} has lost its examples"
    run_in_order(sandbox, page, runnable)


def run_in_order(sandbox: Sandbox, page: str, runnable: list[Example]) -> None:
    """Each example run in turn; the first whose output differs from what the page shows fails the test. They
    run in the project's folder, as a reader's would: none may leave a file there (a generated client did)."""
    before = set(os.listdir(ROOT))
    for example in runnable:
        printed = sandbox.run(example)
        if not printed.endswith("\n") and printed:
            printed += "\n"
        match = expected(example.shown).match(printed)
        assert match, (
            f"{page} line {example.line}: $ {example.command}\n--- the page shows:\n"
            + "\n".join(example.shown)
            + f"\n--- it printed:\n{printed}"
        )
        for name, value in match.groupdict().items():
            sandbox.etags[name[2:]] = value
        left = set(os.listdir(ROOT)) - before - {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
        assert not left, f"{page} line {example.line}: $ {example.command}\n--- left in the project: {sorted(left)}"


def test_the_pattern_of_an_example() -> None:
    """The rules above, on a small example: times and ETags vary, `…` stands for anything, headers in order."""
    shown = ["HTTP/1.1 201 Created", 'etag: "1f4c963a9e7791b7cf1bc2b8"', "", '{"id":17,"at":"2026-11-28T18:20:19Z",…}']
    printed = (
        'HTTP/1.1 201 Created\ndate: x\netag: "0123456789abcdef01234567"\nserver: y\n\n'
        '{"id":17,"at":"2026-11-28T18:20:21Z","more":1}\n'
    )
    match = expected(shown).match(printed)
    assert match and match.group("e_1f4c963a9e7791b7cf1bc2b8") == "0123456789abcdef01234567"
    assert not expected(shown).match(printed.replace('"id":17', '"id":18'))
    assert not expected(["a", "b"]).match("a\nc\n")
    assert expected(["a", "…", "d"]).match("a\nb\nc\nd\n")


@pytest.mark.parametrize("now", [NOW, "2027-06-01T10:00:00Z"])
def test_starting_and_reading_leave_the_shipped_sample_as_it_is(tmp_path: Path, now: str) -> None:
    """A newcomer starts the server and looks around: `git status` must still say nothing changed. The sample's
    SLA breaches are already recorded (breach_events), so the start-up sweep has nothing to write, then or later
    (every clock of the sample has passed its due times or is paused), and reads write nothing."""
    sample = tmp_path / "tickets.json"
    shutil.copy(SAMPLE, sample)
    shipped = sample.read_bytes()
    env = {"TICKETS_NOW": now, "TICKETS_FILE": str(sample)}
    with running_server(sample, env=env) as base:
        for path in (
            "/health",
            "/tickets",
            "/tickets/1",
            "/tickets/1/comments",
            "/tickets/1/events",
            "/events",
            "/tickets/stats",
            "/sla",
            "/tickets?sla=breached&sort=due",
        ):
            assert httpx.get(base + path).status_code == 200, path
    for command in ([], ["list", "--sort", "due"], ["show", "4"]):
        done = subprocess.run(
            [sys.executable, "script.py", *command], cwd=ROOT, env={**env, "LANG": "C.UTF-8"}, capture_output=True
        )
        assert done.returncode == 0, (command, done.stderr)
    assert sample.read_bytes() == shipped
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tickets.json"]


def _debian_cluster(version: str, name: str) -> list[str] | None:
    """pg_lsclusters' row of that cluster (version, name, port, status, …), or None."""
    if shutil.which("pg_lsclusters") is None:
        return None
    listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False).stdout
    rows = [line.split() for line in listed.splitlines()]
    return next((row for row in rows if row[:2] == [version, name]), None)


def _as_postgres(*command: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *command], capture_output=True, check=False, timeout=60)


@pytest.mark.postgres
def test_the_postgresql_steps_work_as_written_on_debian(sandbox: Sandbox) -> None:
    """docs/postgresql.md, "Mettre en place", run as root on Debian's own cluster (15/main, as the package makes
    it): started if it is down (and stopped again after), a role and a database made, the sample copied, a server
    started on it. The page's role and database `tickets` become a name of this run's (a user's own `tickets`
    database is never touched), dropped at the end; a cluster already online is left running (its start step is
    then skipped: pg_ctlcluster would say it runs already)."""
    cluster = _debian_cluster("15", "main")
    if os.geteuid() != 0 or shutil.which("runuser") is None or cluster is None or cluster[2] != "5432":
        required_or_skip(
            "the PostgreSQL steps need root and Debian's cluster 15/main on port 5432 (apt-get install postgresql)"
        )
        return
    was_down = cluster[3] == "down"
    name = f"tickets_doc_check_{os.getpid()}"
    page = (ROOT / "docs" / "postgresql.md").read_text(encoding="utf-8")
    runnable = examples(page[page.index("## Mettre en place") :].split("\n## ", 1)[0])
    assert [e.command.split()[0] for e in runnable] == [
        "pg_ctlcluster",
        "pg_lsclusters",
        "runuser",
        "runuser",
        "python",
        "TICKETS_DATABASE_URL=postgresql://tickets:motdepasse@localhost/tickets",
        "curl",
    ]
    sandbox.names.update(
        {
            "CREATE ROLE tickets ": f"CREATE ROLE {name} ",
            "--owner tickets tickets": f"--owner {name} {name}",
            "tickets:motdepasse@localhost/tickets": f"{name}:motdepasse@localhost/{name}",
            "tickets:***@localhost/tickets": f"{name}:***@localhost/{name}",
            "copy tickets.json ": f"copy {sandbox.folder / 'tickets.json'} ",
        }
    )
    if not was_down:
        runnable = [e for e in runnable if not e.command.startswith("pg_ctlcluster 15 main start")]
    try:
        run_in_order(sandbox, "docs/postgresql.md", runnable)
    finally:
        sandbox.stack.close()  # the server first: its connections would keep the database from being dropped
        _as_postgres("dropdb", "--if-exists", name)
        _as_postgres("psql", "-c", f"DROP ROLE IF EXISTS {name}")
        if was_down:
            _as_postgres("pg_ctlcluster", "15", "main", "stop")
