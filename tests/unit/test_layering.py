"""No import cycle between the modules of vectorops.

import-linter (``lint-imports``, contracts in pyproject.toml) holds the layering between stages; its
``acyclic_siblings`` contract works on packages, where ``db`` importing ``vectorops.airflow.connections`` and
``vectorops.airflow.tasks`` importing ``db`` already count as a cycle. The rule here is the module one: no module
imports, directly or through others, a module that imports it back (imports inside functions and under
``TYPE_CHECKING`` count: grimp reads them all).
"""

from __future__ import annotations

from itertools import pairwise

import grimp


def _import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components of more than one module (or a module importing itself), each sorted."""
    edges = {module: sorted(graph.find_modules_directly_imported_by(module)) for module in sorted(graph.modules)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        # Tarjan's algorithm without recursion: a frame is (module, iterator over what it imports)
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        frames = [(root, iter(edges[root]))]
        while frames:
            module, imported = frames[-1]
            for target in imported:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    frames.append((target, iter(edges[target])))
                    break
                if target in on_stack:
                    low[module] = min(low[module], index[target])
            else:
                frames.pop()
                if frames:
                    low[frames[-1][0]] = min(low[frames[-1][0]], low[module])
                if low[module] == index[module]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == module:
                            break
                    if len(component) > 1 or module in edges[module]:
                        cycles.append(sorted(component))
    return cycles


def _describe(graph: grimp.ImportGraph, component: list[str]) -> str:
    """One cycle through ``component``, as ``a -> b -> a`` with the lines that import."""
    first, rest = component[0], set(component[1:])
    chain = next((graph.find_shortest_chain(first, other) for other in sorted(rest)
                  if graph.find_shortest_chain(other, first)), None) or (first,)
    back = graph.find_shortest_chain(chain[-1], first) or (chain[-1], first)
    path = [*chain, *back[1:]]
    lines = []
    for importer, imported in pairwise(path):
        details = graph.get_import_details(importer=importer, imported=imported)
        where = ", ".join(f"line {d['line_number']}" for d in details)
        lines.append(f"  {importer} -> {imported} ({where})")
    return " -> ".join(path) + "\n" + "\n".join(lines)


def test_no_module_imports_itself_through_others() -> None:
    graph = grimp.build_graph("vectorops", cache_dir=None)
    cycles = _import_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(_describe(graph, component) for component in cycles)


def test_the_cycle_finder_finds_a_cycle_and_names_it() -> None:
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d"):
        graph.add_module(module)
    for importer, imported in (("pkg.a", "pkg.b"), ("pkg.b", "pkg.c"), ("pkg.c", "pkg.a"), ("pkg.c", "pkg.d")):
        graph.add_import(importer=importer, imported=imported, line_number=3, line_contents=f"import {imported}")
    assert _import_cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
    assert _describe(graph, ["pkg.a", "pkg.b", "pkg.c"]).splitlines()[0] == "pkg.a -> pkg.b -> pkg.c -> pkg.a"
