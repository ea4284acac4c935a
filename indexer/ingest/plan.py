"""What an index run must do: the folders scanned and compared with the rows (new,
changed, gone and pending files), before anything is loaded."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from indexer.collection import Collection
from indexer.ingest.scan import FoundFile, scan_folders
from indexer.store import FAILED, OK, FileState


@dataclass
class Plan:
    roots: list[str]
    scanned: int = 0
    unchanged: int = 0
    new: list[FoundFile] = field(default_factory=list)
    changed: list[tuple[int, int, int]] = field(default_factory=list)  # (file id, size, mtime_ns)
    gone: list[FileState] = field(default_factory=list)  # rows whose file was not found
    has_pending: bool = False  # rows a run before this one did not finish
    index_missing: bool = False  # files are indexed but the index file is not there
    scan_errors: list[tuple[str, str]] = field(default_factory=list)
    # (path, reason) of entries named like images that are no readable file; ``unusable_new``
    # of them have no failed row yet
    unusable: list[tuple[str, str]] = field(default_factory=list)
    unusable_new: int = 0
    unusable_were_indexed: list[int] = field(default_factory=list)
    links_out: int = 0

    @property
    def nothing_to_do(self) -> bool:
        return not (self.new or self.changed or self.gone or self.has_pending or self.index_missing
                    or self.unusable_new)

    def pending_gone(self) -> set[int]:
        """Rows still pending whose file is gone: nothing to embed, they only leave."""
        return {s.id for s in self.gone if s.status not in (OK, FAILED)}


def _under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def checked_roots(collection: Collection, roots: list[str]) -> list[str]:
    """The folders to index: those given (made absolute and remembered), else the
    collection's own."""
    for root in roots:
        if not os.path.exists(root):
            raise FileNotFoundError(f"no such file or folder: {root}")
    roots = [os.path.abspath(r) for r in roots]
    collection.store.add_roots(roots)
    roots = roots or collection.store.roots()
    if not roots:
        raise ValueError("no folders to index: give at least one folder")
    return roots


def plan_run(collection: Collection, roots: list[str], follow_links: bool = False) -> Plan:
    """Scan ``roots`` and compare what is there with the collection's rows."""
    scan = scan_folders(roots, follow_links)
    plan = Plan(roots=roots, scanned=len(scan.files), scan_errors=scan.errors, unusable=scan.unusable,
                links_out=scan.links_out)
    unreadable_roots = [path for path, _ in scan.errors if path in roots]
    # A folder that could not be read (or is gone) loses no rows: its files are not "gone".
    live_roots = [r for r in roots if r not in unreadable_roots and os.path.exists(r)]
    known = collection.store.file_states()
    found_paths = set()
    for found in scan.files:
        found_paths.add(found.path)
        state = known.get(found.path)
        if state is None:
            plan.new.append(found)
        elif (state.size, state.mtime_ns) != (found.size, found.mtime_ns):
            plan.changed.append((state.id, found.size, found.mtime_ns))
        elif state.status in (OK, FAILED):
            plan.unchanged += 1
    for path, _ in scan.unusable:  # their rows become (or stay) failed ones; none is "gone"
        found_paths.add(path)
        state = known.get(path)
        if state is None or state.status != FAILED:
            plan.unusable_new += 1
        if state is not None and state.status == OK:  # was a picture (its vector goes at reconcile)
            plan.unusable_were_indexed.append(state.id)
    plan.gone = [s for p, s in known.items() if p not in found_paths and _under(p, live_roots)]
    plan.has_pending = any(s.status not in (OK, FAILED) for s in known.values())
    plan.index_missing = any(s.status == OK for s in known.values()) and not collection.has_index_file()
    return plan
