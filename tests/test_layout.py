"""House rules of the three packages (``ais_emulator``, ``ais_datasets``, ``ais_tar``), read
from the source with ``ast`` (nothing is imported):

* no import circle: the modules' top-level imports form no cycle (imports under
  ``if TYPE_CHECKING:`` do not count, they never run);
* no import of a module of these packages inside a function, the usual way to hide a
  circle, unless the line says why: ``# noqa: PLC0415 - <reason>``;
* every module has a docstring whose first line says what it owns (docs/architecture.md
  lists them);
* no module over ``MAX_LINES`` lines unless its docstring states why, in a paragraph
  starting with ``Size:``.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ais_emulator", "ais_datasets", "ais_tar")
MAX_LINES = 450
REASON = re.compile(r"#\s*noqa:\s*PLC0415\s*[-:]\s*\w")
SIZE_REASON = re.compile(r"^Size:\s*\S", re.M)


@dataclass(frozen=True)
class Import:
    target: str  # a module of PACKAGES
    line: int
    in_function: bool
    source: str  # the statement's first line


def _modules() -> dict[str, Path]:
    """Dotted name -> file of every module of PACKAGES (a compiled one by its C source)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            if path.suffix not in (".py", ".c") or "__pycache__" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()
PY_MODULES = {name: path for name, path in MODULES.items() if path.suffix == ".py"}


def _owner(name: str) -> str | None:
    """The module of PACKAGES that importing ``name`` runs (its nearest known parent)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(name: str, path: Path) -> list[Import]:
    """Every import of a module of PACKAGES in ``path``, with where it runs."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    is_package = path.name == "__init__.py"
    found: list[Import] = []

    def targets(node) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        if node.level:  # relative: resolved against this module's package
            base = name.split(".") if is_package else name.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        # ``from pkg import sub`` imports the submodule when there is one
        return [f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module
                for a in node.names]

    def visit(node, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, True)
            elif isinstance(child, ast.If) and _is_type_checking(child):
                for stmt in child.orelse:
                    visit(ast.Module(body=[stmt], type_ignores=[]), in_function)
            elif isinstance(child, (ast.Import, ast.ImportFrom)):
                for owner in dict.fromkeys(map(_owner, targets(child))):
                    if owner is not None and owner != name:
                        found.append(Import(owner, child.lineno, in_function,
                                            lines[child.lineno - 1].strip()))
            else:
                visit(child, in_function)

    visit(ast.parse(source, str(path)), False)
    return found


IMPORTS = {name: _imports(name, path) for name, path in PY_MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative),
    each as one cycle through it, in import order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(graph):
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
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(_cycle_in(graph, set(component)))
    return components


def _cycle_in(graph: dict[str, set[str]], members: set[str]) -> list[str]:
    """One cycle through the smallest member of a strongly connected component."""
    first = min(members)
    paths = {first: [first]}
    queue = [first]
    while queue:  # breadth first: the shortest way back to ``first``
        node = queue.pop(0)
        for nxt in sorted(graph[node] & members):
            if nxt == first:
                return paths[node] + [first]
            if nxt not in paths:
                paths[nxt] = paths[node] + [nxt]
                queue.append(nxt)
    raise AssertionError(f"no cycle through {first} in {sorted(members)}")


# -- the checker checks -------------------------------------------------------------------


def test_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set(), "f": {"f2"},
             "f2": {"f"}}
    assert sorted(_cycles(graph)) == [["a", "b", "c", "a"], ["f", "f2", "f"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_import_reader_sees_every_import_form(tmp_path):
    module = tmp_path / "mod.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "import ais_tar\n"
        "from ais_emulator.store import archives\n"
        "from ais_emulator.api.types import Request\n"
        "if TYPE_CHECKING:\n"
        "    from ais_datasets.tario import TarStream\n"
        "try:\n"
        "    from ais_datasets import _tarscan\n"
        "except ImportError:\n"
        "    pass\n"
        "def f():\n"
        "    from ais_emulator import limits  # noqa: PLC0415 - a stated reason\n"
        "    import os\n", encoding="utf-8")
    got = {(i.target, i.in_function, bool(REASON.search(i.source)))
           for i in _imports("ais_emulator.store.mod", module)}
    assert got == {("ais_tar", False, False), ("ais_emulator.store.archives", False, False),
                   ("ais_emulator.api.types", False, False),
                   ("ais_datasets._tarscan", False, False),
                   ("ais_emulator.limits", True, True)}


def test_every_package_is_read():
    for package in PACKAGES:
        assert package in MODULES and sum(n.startswith(package + ".") for n in MODULES) >= 2
    assert "ais_datasets._tarscan" in MODULES  # the compiled module, by its C source


# -- the rules ----------------------------------------------------------------------------


def test_no_import_cycles():
    graph = {name: {i.target for i in imports if not i.in_function}
             for name, imports in IMPORTS.items()}
    graph.update({name: set() for name in MODULES if name not in graph})
    cycles = _cycles(graph)
    if cycles:
        pytest.fail("import cycles (move what both sides need into its own module):\n"
                    + "\n".join("  " + " -> ".join(cycle) for cycle in cycles),
                    pytrace=False)


def test_no_function_level_imports_of_sibling_modules():
    found = [f"  {PY_MODULES[name].relative_to(ROOT)}:{i.line}: {i.source}"
             for name, imports in sorted(IMPORTS.items()) for i in imports
             if i.in_function and not REASON.search(i.source)]
    if found:
        pytest.fail("imports of ais_emulator/ais_datasets/ais_tar modules inside functions "
                    "(import at the top; where there is a reason not to, such as an "
                    "optional dependency, say it on the line: `# noqa: PLC0415 - <reason>`):\n"
                    + "\n".join(found), pytrace=False)


@pytest.mark.parametrize("name", sorted(PY_MODULES))
def test_module_has_a_docstring_summary(name):
    doc = ast.get_docstring(ast.parse(PY_MODULES[name].read_text(encoding="utf-8")))
    assert doc and doc.splitlines()[0].strip(), (
        f"{PY_MODULES[name].relative_to(ROOT)}: no module docstring; its first line says "
        "what the module owns (docs/architecture.md lists it)")


def test_modules_are_small_or_say_why():
    over = []
    for path in sorted(PY_MODULES.values()):
        size = len(path.read_text(encoding="utf-8").splitlines())
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        if size > MAX_LINES and not SIZE_REASON.search(doc):
            over.append(f"  {path.relative_to(ROOT)}: {size} lines")
    if over:
        pytest.fail(f"modules over {MAX_LINES} lines (split them by concept, or state why "
                    "not in their docstring, in a paragraph starting with `Size:`):\n"
                    + "\n".join(over), pytrace=False)


# -- other libraries' internals -------------------------------------------------------------

# What of ``aistore``, ``responses`` and ``moto`` has no public API is used in one adapter
# module per library (which checks the installed version); everything else uses their
# public API. Private modules of any other third-party library are not imported at all
# (the standard library is not checked here).
ADAPTERS = {
    "aistore": ("ais_datasets._sdk_adapter",
                {"_client", "_request_client", "_executor", "_retry_manager", "_bck_details",
                 "_session_manager", "_response_handler", "_smap"}),
    "responses": ("ais_emulator.transports._responses_adapter",
                  {"_real_send", "_calls", "_default_mock", "_registry"}),
    "moto": ("ais_emulator._moto_adapter",
             {"botocore_stubber", "override_responses_real_send"}),
}
MOTO_INTERNAL = ("moto.core.models", "moto.core.botocore_stubber", "moto.core.custom_responses_mock")


def _private_module(module: str) -> bool:
    return any(part.startswith("_") and not part.startswith("__") for part in module.split("."))


def _internals_used(name: str, path: Path) -> list[tuple[str, int, str]]:
    """(library, line, what) for each use in ``path`` of a library internal listed above."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            modules = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
        for module in modules:
            library = module.split(".")[0]
            if library in PACKAGES or library in sys.stdlib_module_names or not module:
                continue
            if _private_module(module) or module.startswith(MOTO_INTERNAL):
                found.append((library, node.lineno, f"import of {module}"))
        attr = None
        if isinstance(node, ast.Attribute) and not (
                isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
            attr = node.attr
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in ("getattr", "setattr", "hasattr") and len(node.args) > 1 and \
                isinstance(node.args[1], ast.Constant):
            attr = node.args[1].value
        for library, (_, names) in ADAPTERS.items():
            if attr in names:
                found.append((library, node.lineno, f"attribute {attr}"))
    return found


def test_other_libraries_internals_only_in_their_adapters():
    adapters = {adapter for adapter, _ in ADAPTERS.values()}
    found = []
    for name, path in sorted(PY_MODULES.items()):
        for library, line, what in _internals_used(name, path):
            if name != ADAPTERS.get(library, (None,))[0]:
                found.append(f"  {path.relative_to(ROOT)}:{line}: {what} ({library})")
    if found:
        pytest.fail("internals of other libraries outside their adapter modules ("
                    + ", ".join(sorted(adapters)) + "; private modules of other "
                    "third-party libraries are not imported at all):\n" + "\n".join(found), pytrace=False)
    for adapter in adapters:
        assert adapter in PY_MODULES
        assert _internals_used(adapter, PY_MODULES[adapter]), f"{adapter} uses no internals"
