"""The layout is the design: five rooms, imports pointing only down (api and cli -> worker -> stores -> engine), each
module importable on its own (no circle), settings read from the environment in one place, and the docs
naming every module there is. docs/architecture.md draws this; this test keeps it true."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

PACKAGE = ROOT / "tickets"
# What each room may import of the package: itself and the rooms below it.
MAY_IMPORT = {
    "engine": {"engine"},
    "stores": {"stores", "engine"},
    "worker": {"worker", "stores", "engine"},
    "api": {"api", "worker", "stores", "engine"},
    "cli": {"cli", "worker", "stores", "engine"},
}
STORES = ("tickets.stores.json_file", "tickets.stores.postgres")  # neither store knows the other


def modules() -> dict[str, Path]:
    """Every module of the package by its dotted name."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(path: Path) -> set[str]:
    """The modules of the package that this file imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name == "tickets" or name.startswith("tickets.")}


def room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in MAY_IMPORT else None


@pytest.mark.parametrize("module", sorted(modules()))
def test_imports_point_only_down(module: str) -> None:
    own = room(module)
    for imported in imports_of(modules()[module]):
        target = room(imported)
        if own is None:  # the package's own __init__ imports nothing
            pytest.fail(f"{module} imports {imported}")
        assert target in MAY_IMPORT[own], f"{module} ({own}) imports {imported} ({target}): arrows point down only"
        for store in STORES:
            if module.startswith(STORES) and not module.startswith(store):
                assert not imported.startswith(store), f"{module} imports {imported}: one store never knows another"


def test_every_module_imports_on_its_own() -> None:
    """A circle shows when the module at one of its ends is imported first: each is imported first, in turn."""
    program = (
        "import importlib, sys\n"
        f"for name in {sorted(modules())!r}:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] in ('tickets', 'main', 'script')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        print(f'{name}: {exc!r}')\n"
    )
    run = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and not run.stdout, run.stdout + run.stderr


def test_the_cli_loads_neither_the_api_nor_the_webhook_worker() -> None:
    """script.py starts for every command: what only the server or `webhooks deliver` needs (FastAPI, the worker and
    its httpx) is not loaded for the others (with them, `script.py --help` took 0.84 s instead of 0.60)."""
    loaded = "sorted(m for m in ('fastapi', 'httpx', 'tickets.worker.runner') if m in sys.modules)"
    program = f"import sys, script\nprint({loaded})"
    run = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stdout) == (0, "[]\n"), run.stderr


def test_only_the_settings_read_the_environment() -> None:
    readers = [
        name
        for name, path in modules().items()
        if "os.environ" in path.read_text(encoding="utf-8") or "getenv" in path.read_text(encoding="utf-8")
    ]
    assert readers == ["tickets.engine.settings"]


def test_the_entry_points_stay_thin() -> None:
    for entry in ("main.py", "script.py"):
        tree = ast.parse((ROOT / entry).read_text(encoding="utf-8"))
        functions = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
        assert len((ROOT / entry).read_text(encoding="utf-8").splitlines()) < 100, entry
        assert len(functions) <= 6, f"{entry} grows functions: they belong in a room of tickets/"


def test_the_docs_name_every_module() -> None:
    """docs/architecture.md (its plan and its table of the repository's files) names each module of the package
    by its path; the README, for users, only points there."""
    architecture = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert "docs/architecture.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    for path in modules().values():
        shown = path.relative_to(ROOT).as_posix()
        if path.name == "__init__.py":
            continue
        assert shown in architecture, f"docs/architecture.md does not name {shown}"
    for sql in sorted((PACKAGE / "stores" / "postgres" / "migrations").glob("*.sql")):
        assert sql.name in architecture, f"docs/architecture.md does not name the migration {sql.name}"
