"""Import direction over src/pet2rep (issue 12): the pipeline's layers import only downwards, with no cycles.

Layers, lowest first (a module may import its own layer and any lower layer, never a higher one; in layer 2 the two
packages are independent of each other):

0. base: errors, io, organs, and the prompt dataset's file format (prompts.dataset, prompts.messages: the records and
   messages that every later stage reads; they import only the base)
1. study
2. ingest, metrics (scoring is a library: it reads predictions and references, nothing of the stages that made them)
3. render
4. prompts (building datasets)
5. backends
6. runs (generate, merge)
7. publish (leaderboard, plots, viewer: reads scored runs)
8. review (reader-study web app)
9. demo
10. cli (the `pet2rep` command: every stage's argument parsing, pet2rep.cli.*) and __main__: the top layer,
    which may import any stage; no library module imports it

Imports are read with `ast` (also those inside functions, which is where heavy or optional ones live), so a lazy
import cannot hide a wrong direction.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "pet2rep"

LAYERS: dict[str, int] = {
    "__init__": 0, "errors": 0, "io": 0, "organs": 0, "prompts.dataset": 0, "prompts.messages": 0,
    "study": 1,
    "ingest": 2, "metrics": 2,
    "render": 3,
    "prompts": 4,
    "backends": 5,
    "runs": 6,
    "publish": 7,
    "review": 8,
    "demo": 9,
    "cli": 10, "__main__": 10,
}

# layers whose packages must not import each other (ingest and metrics are independent of each other)
SEPARATE_LAYERS = {2}

# Private names another module may import (issue 12 listed five; none is left): the set may only shrink.
KNOWN_PRIVATE_IMPORTS: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _unit(module: str) -> str:
    """The LAYERS key a module belongs to: its own name when listed (prompts.dataset), else its top package."""
    return module if module in LAYERS else module.split(".")[0]


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported pet2rep module, imported names, line) for every import of `path`, relative ones resolved."""
    module = _module_name(path)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = ".".join([*base, node.module] if node.module else base)
            elif node.module and (node.module == "pet2rep" or node.module.startswith("pet2rep.")):
                target = node.module[len("pet2rep") :].lstrip(".")
            else:
                continue
            names = [a.name for a in node.names]
            # "from . import auth" / "from pet2rep.metrics import meteor": the names may be submodules
            subs = [f"{target}.{n}".strip(".") for n in names if (SRC / Path(*f"{target}.{n}".strip(".").split("."))).with_suffix(".py").exists()
                    or (SRC / Path(*f"{target}.{n}".strip(".").split("."))).is_dir()]
            if subs:
                out.extend((s, [], node.lineno) for s in subs)
            elif target:
                out.append((target, names, node.lineno))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("pet2rep."):
                    out.append((a.name[len("pet2rep.") :], [], node.lineno))
    return out


def _all_modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_has_a_layer() -> None:
    missing = sorted({_unit(_module_name(p)) for p in _all_modules()} - set(LAYERS) - {""})
    assert not missing, f"modules without a layer in tests/test_layout.py LAYERS: {missing}"


def test_imports_go_down() -> None:
    wrong = []
    for path in _all_modules():
        src = _module_name(path)
        su = _unit(src)
        for target, _names, line in _imports(path):
            tu = _unit(target) if target else "__init__"
            if tu == su or tu == "__init__":
                continue
            apart = LAYERS[su] in SEPARATE_LAYERS and tu.split(".")[0] != su.split(".")[0]
            if LAYERS[tu] > LAYERS[su] or (LAYERS[tu] == LAYERS[su] and apart):
                wrong.append(f"{path.relative_to(SRC.parent)}:{line}: {src} ({su}, layer {LAYERS[su]}) imports "
                             f"{target} ({tu}, layer {LAYERS[tu]})")
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def test_only_the_command_line_imports_the_cli_package() -> None:
    """The library speaks Python: argument parsing lives in pet2rep.cli, and no library module imports it."""
    wrong = [f"{path.relative_to(SRC.parent)}:{line}: imports {target}"
             for path in _all_modules() if _unit(_module_name(path)) not in ("cli", "__main__")
             for target, _names, line in _imports(path) if _unit(target) == "cli"]
    assert not wrong, "library modules importing the command line:\n" + "\n".join(wrong)
    assert LAYERS["cli"] == max(LAYERS.values())
    argparse_users = sorted(str(p.relative_to(SRC)) for p in _all_modules()
                            if _unit(_module_name(p)) not in ("cli", "__main__")
                            and "import argparse" in p.read_text(encoding="utf-8"))
    assert not argparse_users, argparse_users


def test_no_import_cycles() -> None:
    """No cycle among module-level imports (imports inside functions may close a loop lazily; those are excluded)."""
    graph: dict[str, set[str]] = {}
    for path in _all_modules():
        src = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_lines = {n.lineno for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))}
        graph[src] = {t for t, _, line in _imports(path) if line in top_lines and t and t != src}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if m not in graph:
                continue
            if state.get(m) == 1:
                return stack[stack.index(m) :] + [m]
            if m not in state:
                cyc = visit(m)
                if cyc:
                    return cyc
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            cyc = visit(n)
            assert cyc is None, "import cycle: " + " -> ".join(cyc)


def test_no_new_private_imports() -> None:
    found = set()
    for path in _all_modules():
        src = _module_name(path)
        for target, names, _line in _imports(path):
            for n in names:
                if n.startswith("_") and not n.startswith("__") and target != src:
                    found.add((src, f"{target}.{n}"))
    new = found - KNOWN_PRIVATE_IMPORTS
    assert not new, f"private names imported from another module: {sorted(new)}"
    gone = KNOWN_PRIVATE_IMPORTS - found
    if gone:  # shrink the list so it stays a ratchet
        pytest.fail(f"remove from KNOWN_PRIVATE_IMPORTS (no longer imported): {sorted(gone)}")


def test_reader_sees_relative_lazy_and_submodule_imports() -> None:
    """The import reader resolves what the checks rely on (so they can fail): relative imports, imports inside
    functions, and `from package import submodule`."""
    demo = {t for t, _, _ in _imports(SRC / "demo.py")}
    assert {"metrics.evaluate", "publish.leaderboard", "runs", "ingest.synth"} <= demo  # all inside functions
    hf = {t for t, _, _ in _imports(SRC / "backends" / "hf.py")}
    assert {"backends.base", "backends.chat"} <= hf
    ev = {t for t, _, _ in _imports(SRC / "metrics" / "evaluate.py")}
    assert {"metrics.meteor", "metrics.nlg", "metrics.uptake"} <= ev  # from pet2rep.metrics import meteor, nlg, uptake
    assert LAYERS[_unit("metrics.evaluate")] < LAYERS[_unit("publish.leaderboard")]


def _module_bindings(tree: ast.Module) -> list[str]:
    """Names bound at a module's top level by assignments, functions and classes, once per binding."""
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
    return names


def test_no_module_constant_or_function_is_bound_twice() -> None:
    """A second top-level binding of a name silently replaces the first for every user of it (uptake.py once had two
    `_SCAN_WORD_RE`, and a rule read the other's words): each module binds each name once."""
    twice = []
    for path in sorted(SRC.rglob("*.py")):
        names = _module_bindings(ast.parse(path.read_text(encoding="utf-8")))
        twice += [f"{path.relative_to(SRC)}: {n}" for n in sorted({n for n in names if names.count(n) > 1})
                  if n != "__all__"]
    assert not twice, twice


def test_the_binding_reader_sees_a_rebound_constant() -> None:
    tree = ast.parse("A = 1\ndef f():\n    B = 2\nA = 3\nclass C: ...\n")
    assert _module_bindings(tree) == ["A", "f", "A", "C"]
