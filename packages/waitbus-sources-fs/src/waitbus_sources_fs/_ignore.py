"""Which paths are editor churn, and where a path sits among the watched roots.

Globs are fnmatch patterns. One without a `/` is tried against every component of the
path relative to its root, so `node_modules` hides the whole tree under it and `*~` any
backup file; one with a `/` is tried against the whole relative path (`build/*.o`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fnmatch import fnmatchcase

# Editor and OS temp-file churn, never reported. Atomic-save temp files whose names are
# not listed here are handled by the coalescer instead (a fresh file renamed over the target).
DEFAULT_IGNORE: tuple[str, ...] = (
    "*.sw[a-p]",  # vim swap files: .name.swp, then .swo, .swn ... when one already exists
    "*.swx",  # vim's probe for the swap directory
    "*.swpx",  # vim's probe for long-name support
    "4913",  # vim's probe for write permission in the directory
    "*~",  # backups: vim, emacs, nano, gedit
    "#*#",  # emacs auto-save
    ".#*",  # emacs lock symlinks
    ".DS_Store",  # macOS Finder
    "*___jb_tmp___",  # JetBrains safe write: the new content ...
    "*___jb_old___",  # ... and the old file it replaces
    ".goutputstream-*",  # GIO / gedit atomic-save temp
    "*.kate-swp",  # Kate swap
)


@dataclass(frozen=True)
class Root:
    """One watched PATH. A file PATH is watched through its directory (`dir`), so that a
    save that replaces it by rename is seen; `only` then names the one entry reported."""

    dir: str
    recursive: bool
    only: str | None = None

    def contains(self, path: str) -> bool:
        if path == self.dir:
            return self.only is None
        parent = os.path.dirname(path)
        if self.only is not None:
            return parent == self.dir and os.path.basename(path) == self.only
        if self.recursive:
            return path.startswith(self.dir.rstrip(os.sep) + os.sep)
        return parent == self.dir

    def rel(self, path: str) -> str:
        return os.path.relpath(path, self.dir)


class Paths:
    """The watched roots and the ignore globs, answering for absolute paths."""

    def __init__(self, roots: list[Root], globs: tuple[str, ...]) -> None:
        # Longest first: with overlapping roots a path belongs to the most specific one.
        self.roots = sorted(roots, key=lambda r: (len(r.dir), r.only is not None), reverse=True)
        self.name_globs = tuple(g for g in globs if "/" not in g)
        self.path_globs = tuple(g.strip("/") for g in globs if "/" in g)

    def root_of(self, path: str) -> Root | None:
        """The root that reports `path`, or None (a sibling of a watched file, say)."""
        for root in self.roots:
            if root.contains(path):
                return root
        return None

    def ignored(self, path: str) -> bool:
        base = self._base(path)
        rel = os.path.relpath(path, base) if base else os.path.basename(path)
        if rel == ".":
            return False
        return self._named(rel) or any(fnmatchcase(rel, g) for g in self.path_globs)

    def hides(self, path: str) -> bool:
        """Whether a glob without `/` matches a component of `path` below its root: then
        everything under it is ignored too, so a directory there needs no watch."""
        base = self._base(path)
        return base is not None and path != base and self._named(os.path.relpath(path, base))

    def _named(self, rel: str) -> bool:
        return any(fnmatchcase(part, g) for part in rel.split(os.sep) for g in self.name_globs)

    def _base(self, path: str) -> str | None:
        """The directory a path is relative to for ignore matching: the deepest watched
        directory holding it (a file root's directory counts, so its siblings are judged too)."""
        for root in self.roots:
            if path == root.dir or path.startswith(root.dir.rstrip(os.sep) + os.sep):
                return root.dir
        return None
