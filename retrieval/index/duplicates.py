"""Near-duplicate groups: every vector's nearest neighbours from the index, pairs above a
similarity threshold joined into groups (union-find), so copies, re-encodes, crops and
bursts of the same shot come out together. The index does the neighbour search in
batches; no all-pairs loop."""

from __future__ import annotations

import numpy as np


class _Groups:
    """Union-find over ids."""

    def __init__(self):
        self.parent: dict[int, int] = {}

    def find(self, item: int) -> int:
        root = item
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while item != root:  # path compression
            self.parent[item], item = root, self.parent.get(item, item)
        return root

    def join(self, a: int, b: int) -> None:
        self.parent.setdefault(a, a)
        self.parent.setdefault(b, b)
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        members: dict[int, list[int]] = {}
        for item in list(self.parent):
            members.setdefault(self.find(item), []).append(item)
        return [sorted(group) for group in members.values() if len(group) > 1]


def near_duplicate_groups(index, ids, threshold: float, neighbours: int = 16, batch: int = 4096) -> list[list[int]]:
    """Groups (lists of ids, largest group first) whose members are linked by similarity
    >= ``threshold``. ``index`` is a SearchIndex (search + the stored vectors); a group
    bigger than ``neighbours`` still forms, through the links between its members."""
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between -1 and 1, not {threshold}")
    ids = np.asarray(ids, dtype=np.int64)
    union = _Groups()
    for start in range(0, len(ids), batch):
        part = ids[start:start + batch]
        # Near-duplicates score far above everything else: a short shortlist finds them.
        scores, found = index.search(index.rows.get(part), neighbours + 1, shortlist=4 * (neighbours + 1))
        for own, row_scores, row_ids in zip(part, scores, found):
            for score, other in zip(row_scores, row_ids):
                if score < threshold:
                    break  # rows are sorted best first
                if other >= 0 and other != own:
                    union.join(int(own), int(other))
    return sorted(union.groups(), key=lambda group: (-len(group), group[0]))
