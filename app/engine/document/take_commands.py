"""Commands on the project's take list: switch to, rename, duplicate and delete a take.

Each is one undoable step that swaps whole document snapshots (takes never change in place, so a snapshot is a
handful of references): undoing a switch goes back to the take that was edited, with its keys and selection.
"""
from __future__ import annotations

from dataclasses import replace

from app.engine.document.model import Command, Document, DocumentError, Snapshot


class _TakeListCommand(Command):
    """Computes the document after the change once (`_after`), then moves between the two snapshots."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._before: Snapshot | None = None
        self._done: Snapshot | None = None

    def _check(self, doc: Document, index: int) -> None:
        if not 0 <= index < len(doc.takes):
            raise DocumentError(f"there is no take {index + 1} (the project has {len(doc.takes)})")

    def _after(self, doc: Document, before: Snapshot) -> Snapshot:
        raise NotImplementedError

    def do(self, doc: Document) -> None:
        before = doc.snapshot()
        after = self._done if self._done is not None else self._after(doc, before)  # a redo repeats what was done
        self._before, self._done = before, after
        doc.restore(after)

    def undo(self, doc: Document) -> None:
        assert self._before is not None
        doc.restore(self._before)


def _unique(name: str, taken: list[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name} {n}" in taken:
        n += 1
    return f"{name} {n}"


class SwitchTake(_TakeListCommand):
    def __init__(self, index: int) -> None:
        super().__init__("Switch take")
        self.index = index

    def _after(self, doc: Document, before: Snapshot) -> Snapshot:
        self._check(doc, self.index)
        self.label = f"Switch to take “{doc.takes[self.index].name}”"
        return replace(before, active=self.index, frame=0)


class RenameTake(_TakeListCommand):
    def __init__(self, index: int, name: str) -> None:
        super().__init__("Rename take")
        self.index, self.name = index, name.strip()

    def _after(self, doc: Document, before: Snapshot) -> Snapshot:
        self._check(doc, self.index)
        if not self.name:
            raise DocumentError("a take needs a name")
        if self.name in [n for i, n in enumerate(doc.take_names) if i != self.index]:
            raise DocumentError(f"there is already a take named “{self.name}”")
        self.label = f"Rename take to “{self.name}”"
        takes = list(before.takes)
        takes[self.index] = replace(takes[self.index], name=self.name)
        return replace(before, takes=tuple(takes))


class DuplicateTake(_TakeListCommand):
    """A copy of the take (with its segments, keys and selection) right after it; the copy is then edited."""

    def __init__(self, index: int) -> None:
        super().__init__("Duplicate take")
        self.index = index

    def _after(self, doc: Document, before: Snapshot) -> Snapshot:
        self._check(doc, self.index)
        original = before.takes[self.index]
        copy = replace(original, name=_unique(f"{original.name} copy", doc.take_names))
        self.label = f"Duplicate take “{original.name}”"
        takes = before.takes[: self.index + 1] + (copy,) + before.takes[self.index + 1:]
        return Snapshot(takes, self.index + 1, before.frame)


class DeleteTake(_TakeListCommand):
    """Remove a take (the project keeps at least one); deleting the edited take edits its neighbour."""

    def __init__(self, index: int) -> None:
        super().__init__("Delete take")
        self.index = index

    def _after(self, doc: Document, before: Snapshot) -> Snapshot:
        self._check(doc, self.index)
        if len(before.takes) == 1:
            raise DocumentError("a project keeps at least one take")
        self.label = f"Delete take “{before.takes[self.index].name}”"
        takes = before.takes[: self.index] + before.takes[self.index + 1:]
        active = before.active - (before.active > self.index) if before.active != self.index else min(self.index, len(takes) - 1)
        return Snapshot(takes, active, before.frame if before.active != self.index else 0)
