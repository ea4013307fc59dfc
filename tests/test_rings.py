"""The package's rings: the core imports nothing from the application or the tape, the tape
nothing from the application, and no module imports itself back through others.

Read from the source with ``ast`` (importing ``backprop`` would load every ring): every
``import`` and ``from ... import`` of every module under backprop/, relative ones resolved.
The one exception is stated in the core's docstring: the three-way check asks the tape
for a third opinion, inside the functions that need it, never when the core is imported.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "backprop"
ALLOWED_CORE_TO_TAPE = {"backprop.core.gradient_check"}  # inside three_way_check's helpers


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path):
    """(imported module, at module level?) for every import in the file at ``path``."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            found.append((target, id(node) in top_level))
            for alias in node.names:  # `from . import kernels` imports a module too
                candidate = f"{target}.{alias.name}"
                if module_path(candidate) is not None:
                    found.append((candidate, id(node) in top_level))
    return [(target, top) for target, top in found if target.split(".")[0] == "backprop"]


def module_path(name):
    base = PACKAGE.parent.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def ring(name):
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ("core", "app", "tf") else "top"


def test_the_three_rings_are_folders_of_the_package():
    assert {ring(name) for name in MODULES} == {"core", "app", "tf", "top"}
    top = sorted(name for name in MODULES if ring(name) == "top")
    assert top == ["backprop", "backprop.__main__"]  # the public names and `python -m`


@pytest.mark.parametrize("name", [n for n in MODULES if ring(n) == "core"])
def test_the_core_imports_nothing_from_the_application_or_the_tape(name):
    for target, top_level in imports(MODULES[name]):
        if ring(target) == "tf" and name in ALLOWED_CORE_TO_TAPE and not top_level:
            continue
        assert ring(target) == "core", f"{name} imports {target}"


@pytest.mark.parametrize("name", [n for n in MODULES if ring(n) == "tf"])
def test_the_tape_imports_nothing_from_the_application(name):
    for target, _ in imports(MODULES[name]):
        assert ring(target) in ("tf", "core"), f"{name} imports {target}"


def test_no_module_imports_itself_back_through_others():
    graph = {name: {t for t, top in imports(path) if top and t in MODULES and t != name}
             for name, path in MODULES.items()}
    for name in graph:  # a package imports its own modules: not a cycle through them
        graph[name] -= {t for t in graph[name] if name != "backprop" and t.startswith(name + ".")}
    done, path = set(), []

    def visit(name):
        if name in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(name):] + [name]))
        if name in done:
            return
        path.append(name)
        for target in sorted(graph[name]):
            if target != "backprop":
                visit(target)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_the_check_finds_an_import_across_the_rings(tmp_path, monkeypatch):
    """The rule can fail: a core module importing the application is caught."""
    core = tmp_path / "backprop" / "core"
    core.mkdir(parents=True)
    (tmp_path / "backprop" / "app").mkdir()
    (tmp_path / "backprop" / "app" / "io.py").write_text("")
    bad = core / "layers.py"
    bad.write_text("from ..app.io import save_npz\nfrom . import kernels\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", tmp_path / "backprop")
    found = imports(bad)
    assert ("backprop.app.io", True) in found and ring("backprop.app.io") == "app"
