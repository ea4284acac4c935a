"""Walking image folders: every image file once, with its size and mtime.

Symlinked folders are followed but each real folder is visited once, so a symlink loop
ends. A link that leaves the indexed folders is not followed unless asked (``follow_links``):
a link in a photo folder must not put /etc/passwd in reach of the server. Folders that
cannot be read are reported (``errors``); entries named like images that are no readable
file (a FIFO, a device, a link that loops, breaks or leaves) are ``unusable``, for status.
"""

from __future__ import annotations

import os
import stat as stat_kinds
from dataclasses import dataclass, field

from indexer.collection.paths import is_inside
from retrieval.images.decode import HEIF_SUPPORTED

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
    | ({".heic", ".heif"} if HEIF_SUPPORTED else set())
)


@dataclass(frozen=True)
class FoundFile:
    path: str  # absolute, as the OS gives it (surrogate-escaped when not UTF-8)
    size: int
    mtime_ns: int


@dataclass
class ScanResult:
    files: list[FoundFile] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (folder, reason)
    unusable: list[tuple[str, str]] = field(default_factory=list)  # (path named like an image, why not)
    links_out: int = 0  # links followed out of the indexed folders (follow_links)


LINK_OUT = "a link to a place outside the indexed folders: not followed (index with --follow-links to include it)"


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def scan_folders(roots: list[str], follow_links: bool = False) -> ScanResult:
    result = ScanResult()
    walk = _Walk(result, [os.path.realpath(r) for r in roots], follow_links)
    for root in roots:
        root = os.path.abspath(root)
        if os.path.isfile(root):
            _add_file(root, result, walk.seen_files)
        else:
            walk.folder_tree(root)
    result.files.sort(key=lambda f: f.path)
    return result


class _Walk:
    def __init__(self, result: ScanResult, real_roots: list[str], follow_links: bool):
        self.result, self.real_roots, self.follow_links = result, real_roots, follow_links
        self.seen_dirs: set[tuple[int, int]] = set()
        self.seen_files: set[str] = set()

    def folder_tree(self, root: str) -> None:
        stack = [root]
        while stack:
            folder = stack.pop()
            try:
                info = os.stat(folder)
            except OSError as exc:
                self.result.errors.append((folder, f"cannot stat folder: {exc.strerror or exc}"))
                continue
            key = (info.st_dev, info.st_ino)
            if key in self.seen_dirs:  # a symlink loop, or the same folder reached twice
                continue
            self.seen_dirs.add(key)
            try:
                entries = list(os.scandir(folder))
            except OSError as exc:
                self.result.errors.append((folder, f"cannot list folder: {exc.strerror or exc}"))
                continue
            subfolders = [entry.path for entry in entries if self.entry(entry)]
            stack.extend(sorted(subfolders, reverse=True))

    def entry(self, entry: os.DirEntry) -> bool:
        """Record one folder entry; returns whether it is a folder to walk into."""
        if entry.name.startswith("."):
            return False  # hidden files and clipdex's own data dir
        image = is_image_name(entry.name)
        try:
            if entry.is_symlink() and not is_inside(entry.path, self.real_roots):
                if not self.follow_links:
                    if image:
                        self.result.unusable.append((entry.path, LINK_OUT))
                    elif entry.is_dir(follow_symlinks=True):
                        self.result.errors.append((entry.path, LINK_OUT))
                    return False
                self.result.links_out += 1
            if entry.is_dir(follow_symlinks=True):
                return True
            if image:
                self.image_entry(entry)
        except OSError as exc:
            self.result.unusable.append((entry.path, f"cannot read: {exc.strerror or exc}"))
        return False

    def image_entry(self, entry: os.DirEntry) -> None:
        try:
            info = entry.stat(follow_symlinks=True)
        except OSError as exc:  # a link that loops or points nowhere
            self.result.unusable.append((entry.path, f"cannot read: {exc.strerror or exc}"))
            return
        if not stat_kinds.S_ISREG(info.st_mode):
            self.result.unusable.append((entry.path, "not a regular file (a FIFO, socket or device)"))
        elif entry.path not in self.seen_files:
            self.seen_files.add(entry.path)
            self.result.files.append(FoundFile(entry.path, info.st_size, info.st_mtime_ns))


def _add_file(path: str, result: ScanResult, seen: set[str]) -> None:
    if not is_image_name(path):
        result.errors.append((path, "not an image file name"))
        return
    try:
        stat = os.stat(path)
    except OSError as exc:
        result.errors.append((path, f"cannot stat: {exc.strerror or exc}"))
        return
    if path not in seen:
        seen.add(path)
        result.files.append(FoundFile(path, stat.st_size, stat.st_mtime_ns))
