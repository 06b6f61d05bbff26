"""The layering rules, read from the source with `ast` (nothing is imported to check them).

- `core/` is the ground floor: it imports nothing of kessai outside itself, not even for typing.
- No import circle spans more than one domain folder. Imports inside functions count (a lazy
  import hides a circle, it does not remove it); imports under `if TYPE_CHECKING:` do not (they
  never run, and a domain names the composition root's `Services` that way).
- No connector module (anything under `providers/`) imports orders, payments, customers or
  subscriptions: a provider knows its wire, not kessai's 受注.
- A provider's room (`providers/<name>/`) is imported from outside it only by
  `providers/installed.py`: everything else reads the declaration. The few modules that still
  reach into GMO PG's file layouts are listed below; the list only shrinks.
"""

import ast
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "kessai"
ABOVE_CONNECTORS = ("orders", "payments", "customers", "subscriptions")


def modules(root: Path) -> dict[str, Path]:
    """Dotted module name → file, for the package at `root` (e.g. src/kessai)."""
    found = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def imported_names(module: str, path: Path, *, typing_too: bool) -> Iterable[str]:
    """Every dotted name a module imports (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = set() if typing_too else _type_checking_nodes(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph(root: Path, *, typing_too: bool = False) -> dict[str, set[str]]:
    """Module → the package modules it imports (a `from a import b` of a name counts as a)."""
    mods = modules(root)
    top = root.name

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in mods.items():
        graph[module]
        for name in imported_names(module, path, typing_too=typing_too):
            if name == top or name.startswith(f"{top}."):
                target = resolve(name)
                if target is not None and target != module:
                    graph[module].add(target)
    return graph


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
    return found


def domain(module: str) -> str:
    """The domain folder (or top-level module): kessai.payments.bulk.kind → payments."""
    return module.split(".")[1] if "." in module else module


def core_violations(root: Path) -> list[str]:
    graph = import_graph(root, typing_too=True)
    return sorted(
        f"{m} → {t}"
        for m, targets in graph.items()
        if domain(m) == "core"
        for t in targets
        if domain(t) != "core"
    )


def cross_domain_circles(root: Path) -> list[list[str]]:
    return [sorted(c) for c in circles(import_graph(root)) if len({domain(m) for m in c}) > 1]


def connector_violations(root: Path) -> list[str]:
    graph = import_graph(root, typing_too=True)
    return sorted(
        f"{m} → {t}"
        for m, targets in graph.items()
        if domain(m) == "providers"
        for t in targets
        if domain(t) in ABOVE_CONNECTORS
    )


# Modules that still import a room directly, waiting to be routed through the declaration
# (none now: GMO PG's batch file formats sit beside the rooms, in providers/gmo_files.py).
NOT_YET_ROUTED: frozenset[str] = frozenset()


def room_of(module: str) -> str | None:
    """kessai.providers.gmo_pg.sim.app → kessai.providers.gmo_pg (a provider's room)."""
    parts = module.split(".")
    if len(parts) >= 4 and parts[1] == "providers":  # a package under providers/
        return ".".join(parts[:3])
    return None


def room_violations(root: Path) -> list[str]:
    graph = import_graph(root, typing_too=True)
    rooms = {r for m in graph if (r := room_of(m)) and f"{r}.provider" in graph}
    return sorted(
        f"{m} → {t}"
        for m, targets in graph.items()
        if m != f"{root.name}.providers.installed" and m not in NOT_YET_ROUTED
        for t in targets
        if (room := room_of(t)) in rooms and room_of(m) != room
    )


def test_a_provider_room_is_imported_only_by_the_installed_list() -> None:
    assert room_violations(SRC) == []


def test_core_imports_nothing_of_kessai_outside_itself() -> None:
    assert core_violations(SRC) == []


def test_no_import_circle_spans_two_domain_folders() -> None:
    assert cross_domain_circles(SRC) == []


def test_no_connector_imports_orders_or_payments() -> None:
    assert connector_violations(SRC) == []


# --- the checker itself, on a made-up package that breaks each rule --------------------------


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    root = tmp_path / "kessai"
    files = {
        "__init__.py": "",
        "core/__init__.py": "",
        "core/clock.py": "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from kessai.orders.models import Order\n",
        "orders/__init__.py": "",
        "orders/models.py": "from kessai.core.clock import x\n",
        "orders/service.py": "def f():\n    from kessai.payments import engine\n",
        "payments/__init__.py": "",
        "payments/engine.py": "from ..orders.service import f\n",
        "payments/typing_only.py": "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from kessai.jobs.kinds import K\n",
        "jobs/__init__.py": "",
        "jobs/kinds.py": "from kessai.payments import typing_only\n",
        "providers/__init__.py": "",
        "providers/densan.py": "from kessai.orders.models import Order\n",
        "providers/installed.py": "from kessai.providers.acme.provider import PROVIDER\n",
        "providers/acme/__init__.py": "",
        "providers/acme/provider.py": "from kessai.providers.acme import codec\n",
        "providers/acme/codec.py": "",
        "web/__init__.py": "",
        "web/app.py": "from kessai.providers.acme.codec import x\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_checker_finds_each_broken_rule(broken: Path) -> None:
    assert core_violations(broken) == ["kessai.core.clock → kessai.orders.models"]
    # A lazy import closes a circle; a TYPE_CHECKING one (jobs ↔ payments here) does not.
    assert cross_domain_circles(broken) == [["kessai.orders.service", "kessai.payments.engine"]]
    assert connector_violations(broken) == ["kessai.providers.densan → kessai.orders.models"]
    assert room_violations(broken) == ["kessai.web.app → kessai.providers.acme.codec"]
