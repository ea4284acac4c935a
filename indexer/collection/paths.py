"""Where a path really is: whether, links resolved, it lies in the collection's folders."""

from __future__ import annotations

import os


def is_inside(path: str, folders: list[str]) -> bool:
    """Whether ``path`` (made real) is one of ``folders`` (real paths) or below one."""
    real = os.path.realpath(path)
    return any(real == folder or real.startswith(folder.rstrip(os.sep) + os.sep) for folder in folders)


def shown_relative(path: str, roots: list[str]) -> str:
    """``path`` as ROOT-NAME/RELATIVE under the first of ``roots`` that holds it (the name
    of the indexed folder, not where it is); the file name alone when none does."""
    for root in sorted(roots, key=len, reverse=True):
        name = os.path.basename(root.rstrip(os.sep))
        if path == root:
            return name
        if path.startswith(root.rstrip(os.sep) + os.sep):
            return os.path.join(name, os.path.relpath(path, root))
    return os.path.basename(path)


def resolve_shown(folder: str, roots: list[str]) -> str:
    """The folder a shown ROOT-NAME/RELATIVE path names (as ``shown_relative`` writes it),
    so that a reader who sees relative paths can filter by them; an absolute path as given,
    and one under no root's name as given too (it then matches nothing)."""
    if os.path.isabs(folder):
        return folder
    name, _, rest = folder.strip(os.sep).partition(os.sep)
    for root in roots:
        if os.path.basename(root.rstrip(os.sep)) == name:
            return os.path.join(root, rest) if rest else root
    return folder
