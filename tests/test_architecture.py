"""The package structure holds: every import runs down the data path, no packages import
each other in a circle, and packages use each other's faces (`__init__.__all__`).

Read from the source with `ast`, so it checks the code as written, imports inside
functions included."""

from __future__ import annotations

import ast
from pathlib import Path

from contextsvc.settings import REPO_ROOT

# Bottom to top. A module may import its own package, and packages of lower layers;
# packages on one layer are peers and import neither each other nor anything above.
LAYERS: list[set[str]] = [
    {"calls", "errors", "timeutil", "settings", "ratelimit", "__init__"},
    {"store", "privacy"},
    {"identity"},
    {"ingest"},
    {"profile"},
    {"pipeline"},
    {"insights"},
    {"reachability"},
    {"context"},
    {"segments"},
    {"activation"},
    {"quality"},
    {"salesforce"},
    {"replica"},  # followers' caches: read the layers below, kept current over Redis
    {"telemetry"},
    {"service"},
    {"api", "demo"},  # demo: the browser console's static files, which api/demo.py serves
    {"cli"},
]
LAYER_OF = {unit: level for level, units in enumerate(LAYERS) for unit in units}
PACKAGE_DIR = REPO_ROOT / "contextsvc"


def _unit(path: Path) -> str:
    """contextsvc/pipeline/writer.py -> pipeline; contextsvc/calls.py -> calls."""
    parts = path.relative_to(PACKAGE_DIR).parts
    return parts[0] if len(parts) > 1 else path.stem


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, imported module, imported names) for every contextsvc import in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "contextsvc":
            found.append((node.lineno, node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names if a.name.split(".")[0] == "contextsvc"]
    return found


def _target(module: str, names: list[str]) -> str:
    parts = module.split(".")
    if len(parts) >= 2:
        return parts[1]
    # `from contextsvc import calls`, or `from contextsvc import __version__` (the package's own)
    return names[0] if len(names) == 1 and names[0] in LAYER_OF else "__init__"


def _graph() -> dict[str, dict[str, list[str]]]:
    """unit -> imported unit -> where ('file:line')."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        unit = _unit(path)
        for line, module, names in _imports(path):
            target = _target(module, names)
            if target != unit:
                graph.setdefault(unit, {}).setdefault(target, []).append(f"{path.relative_to(REPO_ROOT)}:{line}")
    return graph


def test_every_unit_has_a_layer():
    units = {_unit(p) for p in PACKAGE_DIR.rglob("*.py")}
    assert units - set(LAYER_OF) == set(), "add the new package or module to LAYERS"


def test_imports_only_run_down_the_layers():
    upward = [
        f"{unit} (layer {LAYER_OF[unit]}) imports {target} (layer {LAYER_OF[target]}) at {where[0]}"
        for unit, targets in _graph().items()
        for target, where in targets.items()
        if LAYER_OF[target] >= LAYER_OF[unit]
    ]
    assert upward == []


def test_no_two_packages_import_each_other_in_a_circle():
    graph = {unit: set(targets) for unit, targets in _graph().items()}
    cycles = []

    def visit(unit: str, path: list[str]) -> None:
        for target in graph.get(unit, ()):
            if target in path:
                cycles.append(path[path.index(target) :] + [target])
            elif len(path) < len(LAYER_OF):
                visit(target, path + [target])

    for unit in graph:
        visit(unit, [unit])
    assert cycles == []


def _face(package: str) -> set[str]:
    init = ast.parse((PACKAGE_DIR / package / "__init__.py").read_text())
    for node in init.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def test_packages_use_each_others_faces():
    """`from contextsvc.pipeline import Writer`, not `from contextsvc.pipeline.writer import
    Writer`, from outside the package; everything a face offers is in its __all__."""
    packages = {p.parent.name for p in PACKAGE_DIR.glob("*/__init__.py")}
    internal = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        unit = _unit(path)
        for line, module, names in _imports(path):
            parts = module.split(".")
            if len(parts) > 2 and parts[1] in packages and parts[1] != unit and parts[1] not in ("api", "cli"):
                internal.append(f"{path.relative_to(REPO_ROOT)}:{line} imports {module}")
            elif len(parts) == 2 and parts[1] in packages and parts[1] != unit:
                missing = set(names) - _face(parts[1])
                if missing:
                    internal.append(f"{path.relative_to(REPO_ROOT)}:{line}: {sorted(missing)} not in {module}.__all__")
    assert internal == []
