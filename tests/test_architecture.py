"""The import graph of ``src/posecast`` follows the layers of ``docs/design.md``: imports only go down
(or stay within a layer), and no module imports itself back through others.

Every ``import posecast.x`` / ``from posecast.x import y`` / ``from posecast import x`` (and relative
imports) counts, at any nesting: module level, inside functions, under ``if TYPE_CHECKING:``. String
references (registry builders named ``"module:function"``) are not imports and are allowed.

``posecast/x/__init__.py`` is the module ``posecast.x``. ``from posecast.x import y`` is an import of
the module ``posecast.x.y`` when that module exists, else of ``posecast.x``. (Importing
``posecast.x.y`` also runs ``posecast/x/__init__.py``; that implicit edge is not counted, or every
package whose ``__init__`` re-exports its modules would be a cycle.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "posecast"

#: Layers, bottom to top (docs/design.md). A module may import modules of its own layer or below.
#: EVERY top-level module and package of ``posecast`` must be named here.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("posecast.errors",),
    ("posecast.kinematics", "posecast.skeletons"),
    ("posecast.motion",),
    ("posecast.io", "posecast.datasets", "posecast.synthetic"),  # sources of motions
    ("posecast.models",),  # registry, networks, their forecasters
    ("posecast.viz",),
    ("posecast.video", "posecast.keyposes"),
    ("posecast.evaluation", "posecast.training"),
    ("posecast", "posecast.api"),  # the top-level API: posecast/__init__.py and posecast/api.py
    ("posecast.cli", "posecast.__main__", "posecast.serve", "posecast.client"),
)
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _resolve(name: str) -> str:
    """``name`` if it is a module of the package, else the nearest enclosing module."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def raw_imports_of(module: str, path: Path) -> list[tuple[int, str, str | None]]:
    """``(line, module named, imported name or None)`` of every ``posecast`` import in ``path``, at any
    nesting; relative imports resolved against ``module``'s package."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    out: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, None) for a in node.names if a.name.split(".")[0] == "posecast"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "posecast":
                out += [(node.lineno, target, alias.name) for alias in node.names]
    return out


def imports_of(module: str, path: Path) -> list[tuple[int, str]]:
    """``(line, imported module)`` of every ``posecast`` import in ``path``, at any nesting.
    ``from posecast.x import y`` is module ``posecast.x.y`` if there is one, else ``posecast.x``."""
    out = []
    for line, target, name in raw_imports_of(module, path):
        sub = f"{target}.{name}"
        out.append((line, sub if name is not None and sub in MODULES else _resolve(target)))
    return out


def layer_of(module: str) -> int:
    """The layer of ``module``: that of the longest name in `LAYERS` that is the module or a package above it."""
    name = module
    while True:
        if name in LAYER and (name != "posecast" or module == "posecast"):
            return LAYER[name]
        if "." not in name:
            raise KeyError(module)
        name = name.rsplit(".", 1)[0]


def graph() -> dict[str, dict[str, int]]:
    """``{module: {imported module: first line}}`` (self-imports left out)."""
    out: dict[str, dict[str, int]] = {}
    for module, path in MODULES.items():
        edges: dict[str, int] = {}
        for line, target in imports_of(module, path):
            if target != module:
                edges.setdefault(target, line)
        out[module] = edges
    return out


def strongly_connected(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module (the import cycles)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(sorted(edges[root])))]
        while work:  # iterative DFS: the graph is a few hundred modules, recursion would do, but no limits
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in edges:
                    continue
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _cycle_path(component: list[str], edges: dict[str, dict[str, int]]) -> str:
    """One concrete cycle inside a strongly connected component, with file lines."""
    members = set(component)
    start = component[0]
    # breadth-first search back to start inside the component
    prev: dict[str, str] = {}
    queue = [start]
    seen = {start}
    while queue:
        node = queue.pop(0)
        for child in sorted(edges[node]):
            if child == start:
                path = [start]
                while node != start:
                    path.append(node)
                    node = prev[node]
                path = [start, *reversed(path[1:])]
                hops = [f"{a} (line {edges[a][b]}) -> {b}" for a, b in zip(path, [*path[1:], start], strict=True)]
                return "; ".join(hops)
            if child in members and child not in seen:
                seen.add(child)
                prev[child] = node
                queue.append(child)
    return ", ".join(component)


def test_every_module_has_a_layer():
    missing = sorted({m for m in MODULES if _safe_layer(m) is None})
    assert not missing, f"modules without a layer (add their package to LAYERS): {missing}"


def _safe_layer(module: str) -> int | None:
    try:
        return layer_of(module)
    except KeyError:
        return None


def test_imports_only_go_down():
    edges = graph()
    bad = []
    for module, targets in sorted(edges.items()):
        src = _safe_layer(module)
        for target, line in sorted(targets.items()):
            dst = _safe_layer(target)
            if src is not None and dst is not None and dst > src:
                where = f"{MODULES[module].relative_to(SRC)}:{line}"
                bad.append(f"{where}: {module} (layer {src}) imports {target} (layer {dst})")
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_imports_name_existing_modules():
    """A moved or deleted module leaves no import behind (the layer check would read it as its package)."""
    bad = []
    for module, path in sorted(MODULES.items()):
        for line, target, _ in raw_imports_of(module, path):
            if target not in MODULES:
                bad.append(f"{path.relative_to(SRC)}:{line}: no module {target}")
    assert not bad, "imports of modules that do not exist:\n" + "\n".join(bad)


def test_no_import_cycles():
    edges = graph()
    cycles = [_cycle_path(c, edges) for c in strongly_connected(edges)]
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from posecast.models import store", "posecast.models.store"),
        ("from posecast.models import get", "posecast.models"),
        ("from posecast import skeletons", "posecast.skeletons"),
        ("from posecast import load", "posecast"),
        ("import posecast.io.bvh", "posecast.io.bvh"),
        ("def f():\n    from posecast.evaluation.metrics import mpjpe", "posecast.evaluation.metrics"),
        ("if TYPE_CHECKING:\n    from posecast.motion import Motion", "posecast.motion"),
        ("from ..errors import ModelError", "posecast.errors"),
    ],
)
def test_the_checker_sees_imports(tmp_path, source, expected):
    """The collector resolves every import form (a checker that sees nothing passes everything)."""
    fake = tmp_path / "base.py"  # read as module posecast.models.base (relative imports resolve against it)
    fake.write_text(source)
    assert expected in {target for _, target in imports_of("posecast.models.base", fake)}


def test_the_layer_table_knows_every_top_level_name():
    top = {".".join(m.split(".")[:2]) for m in MODULES}
    assert top - {"posecast"} <= set(LAYER), sorted(top - set(LAYER))
    assert layer_of("posecast.models.store") == LAYER["posecast.models"]
    assert layer_of("posecast") == LAYER["posecast"]


def test_the_cycle_finder_finds_cycles():
    edges = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3, "d": 4}, "d": {}, "e": {"e": 5}}
    assert strongly_connected(edges) == [["a", "b", "c"]]
    assert _cycle_path(["a", "b", "c"], edges) == "a (line 1) -> b; b (line 2) -> c; c (line 3) -> a"
