"""Dependency graphs: finding a cycle, ordering for readiness."""

from __future__ import annotations


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One cycle of a dependency graph as [a, b, ..., a], or None. Iterative, so deep chains are fine."""
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    for root in graph:
        if state.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        state[root] = 1
        path.append(root)
        while stack:
            node, i = stack[-1]
            succ = graph.get(node, [])
            if i < len(succ):
                stack[-1] = (node, i + 1)
                nxt = succ[i]
                if state.get(nxt) == 1:
                    return [*path[path.index(nxt) :], nxt]
                if not state.get(nxt):
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
                stack.pop()
    return None
