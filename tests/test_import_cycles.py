"""No import circle between the package's parts (issue 25), counting the imports inside functions:
a lazy import hides a circle, it does not remove it. grimp reads every import of django_liveness;
each module counts as its part (``django_liveness.<first name>``)."""

import grimp

# The deprecated re-export of the webhook admin (CHANGELOG, Upgrading): goes with the shim, next release.
SHIMS = {("django_liveness.webhooks.admin", "django_liveness.admin.webhooks")}
# The service layer's own circle, being taken apart by emit() and the delivery hook (issue 25);
# when it is gone this set is empty and the test asks for no circle at all.
BEING_UNTANGLED = {"privacy", "services", "tasks", "webhooks"}


def part(module):
    return module.split(".")[1] if "." in module else ""


def import_edges():
    graph = grimp.build_graph("django_liveness", include_external_packages=False)
    edges = {}
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            a, b = part(importer), part(imported)
            if a != b and "" not in (a, b) and "migrations" not in (a, b) and (importer, imported) not in SHIMS:
                edges.setdefault(a, set()).add(b)
    return edges


def circles(edges):
    """The groups of parts that import one another, directly or through others (Tarjan)."""
    index, low, stack, found = {}, {}, [], []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = set()
            while not group or node not in group:
                group.add(stack.pop())
            if len(group) > 1:
                found.append(group)

    for node in sorted({*edges, *(b for targets in edges.values() for b in targets)}):
        if node not in index:
            visit(node)
    return found


def test_the_circle_finder_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert circles({"a": {"b"}, "b": {"c"}}) == []


def test_no_part_of_the_package_is_in_an_import_circle():
    edges = import_edges()
    parts = {*edges, *(b for targets in edges.values() for b in targets)}
    assert {"api", "admin", "capture", "images", "operations", "observability", "backends"} <= parts
    assert [group for group in circles(edges) if not group <= BEING_UNTANGLED] == []
