"""Read-only facts about the take: frames, fps, skeleton, locked keys, selection, scope."""
from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QWidget

from app.engine.document import SCOPES, Document, DocumentError, SetScope


class PropertyPanel(QWidget):
    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("propertyPanel")
        self.document = document
        self.labels: dict[str, QLabel] = {}
        form = QFormLayout(self)
        for key, title in (("frames", "Frames"), ("fps", "Frame rate"), ("skeleton", "Skeleton"),
                           ("locks", "Locked keys"), ("selection", "Selection")):
            label = QLabel()
            label.setObjectName(f"{key}Value")
            label.setWordWrap(True)
            self.labels[key] = label
            form.addRow(title, label)
        self.scope = QComboBox()
        self.scope.setObjectName("scopeCombo")
        self.scope.addItems(SCOPES)
        self.scope.setToolTip("What an edit in the selection may change: the full body, or only the upper body")
        self.scope.currentTextChanged.connect(self._scope_picked)
        form.addRow("Edit scope", self.scope)
        events = document.events
        for signal in (events.take_changed, events.locks_changed, events.selection_changed, events.scope_changed):
            signal.connect(lambda *_: self.refresh())
        self.refresh()

    def _scope_picked(self, scope: str) -> None:
        if scope != self.document.scope:
            try:
                self.document.execute(SetScope(scope))
            except DocumentError:
                self.refresh()

    def refresh(self) -> None:
        doc, take = self.document, self.document.take
        locks = doc.locked_frames
        self.labels["frames"].setText(str(take.n_frames) if take else "—")
        self.labels["fps"].setText(f"{take.fps:g} fps" if take else "—")
        self.labels["skeleton"].setText(f"{take.skeleton.name} ({take.skeleton.n_joints} joints)" if take else "—")
        shown = ", ".join(map(str, locks[:12])) + (" …" if len(locks) > 12 else "")
        self.labels["locks"].setText(f"{len(locks)}: {shown}" if locks else "none")
        sel = doc.selection
        self.labels["selection"].setText(f"{sel[0]}–{sel[1]} ({sel[1] - sel[0] + 1} frames)" if sel else "none")
        self.scope.blockSignals(True)
        self.scope.setCurrentText(doc.scope)
        self.scope.blockSignals(False)
