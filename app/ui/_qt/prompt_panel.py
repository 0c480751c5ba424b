"""The prompt panel: text, suggested prompts, length, seed, engine and guidance, the generate / edit buttons.

It decides nothing about motion: each button emits its signal with the parameters as a dict, and
`app.ui.edit_actions` runs the operation. It does check the prompt against what the models know (the shipped
vocabulary): a prompt far from every training caption gets a warning with the nearest known actions before anything
runs, and a second press goes ahead. The "?" menu lists the known actions and puts an example in the box; a few
suggested prompts under the box do the same in one click. Buttons whose precondition fails (no take, no selection,
no segments...) are disabled, and their tooltip says why. A Variations run's takes are shown as previews under the
viewport (`take_preview`).
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QMenu, QPlainTextEdit,
    QPushButton, QSpinBox, QToolButton, QVBoxLayout, QWidget,
)

from app.engine.any_length import LONGEST_TAKE_S
from app.engine.document import Document
from app.engine.models.checkpoint import CheckpointError
from app.engine.ops import DEFAULT_GUIDANCE
from app.engine.text import MAX_TOKENS, TextEncoderUnavailable, get_text_encoder, ignored_words
from app.engine.vocabulary import PromptCheck, Vocabulary, load_vocabulary

EXAMPLE_PROMPT = "a person walks forward and turns left"
# A first prompt should show what works: each of these is a prompt of `kinema eval --suite` whose action rule both
# shipped engines pass (20 of 20 seeds, 2026-12-04). "walks forward and waves" was the example until then, but no
# training take walks and waves at once: the masked engine walked in 1 of 10 seeds, the diffusion engine in none.
SUGGESTED_PROMPTS = ("a person walks forward and turns left", "a person waves the right hand", "a person runs forward",
                     "a person jumps up", "a person raises both hands", "a person bows")
ENGINES = ("masked", "diffusion")


class PromptPanel(QWidget):
    generate_requested = Signal(dict)
    variations_requested = Signal(dict)
    inbetween_requested = Signal(dict)
    regenerate_requested = Signal(dict)
    edit_upper_requested = Signal(dict)
    long_take_requested = Signal(dict)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("promptPanel")
        self.document = document
        self.prompt = QPlainTextEdit()
        self.prompt.setObjectName("promptText")
        self.prompt.setPlaceholderText(EXAMPLE_PROMPT)
        self.prompt.setMaximumHeight(90)
        self.length = self._spin("lengthFrames", 4, LONGEST_TAKE_S * 20, 120, " frames",
                                 f"Length of a generated take at 20 fps, up to {LONGEST_TAKE_S // 60} minutes (longer "
                                 "than 196 frames: made in windows joined by generated transitions)")
        self.auto_length = QCheckBox("From the prompt")
        self.auto_length.setObjectName("autoLengthCheck")
        self.auto_length.setToolTip("Let the engine's length predictor choose the length, as `kinema generate` does "
                                    "without --frames: a kick is about 2.4 s, a walk 8 s. In a longer take the masked "
                                    "engine makes the action at that length, at the take's centre")
        self.auto_length.toggled.connect(lambda on: self.length.setEnabled(not on))
        self.prompt_notice = QLabel()  # what the text encoder does not read of a long prompt
        self.prompt_notice.setObjectName("promptNotice")
        self.prompt_notice.setWordWrap(True)
        self.prompt_notice.setStyleSheet("color: #e0a040")
        self.prompt_notice.hide()
        self.vocab_notice = QLabel()  # a prompt far from what the models know, with the nearest known actions
        self.vocab_notice.setObjectName("vocabNotice")
        self.vocab_notice.setWordWrap(True)
        self.vocab_notice.setStyleSheet("color: #e0a040")
        self.vocab_notice.hide()
        self._warned_prompt = ""  # the prompt the user was warned about: pressing again runs it anyway
        try:
            self.vocabulary: Vocabulary | None = load_vocabulary()
        except CheckpointError:
            self.vocabulary = None
        self.known_actions = self._known_actions_button()
        self.seed = self._spin("seedSpin", 0, 2**31 - 1, 0, "", "Same seed and settings, same motion")
        self.engine = QComboBox()
        self.engine.setObjectName("engineCombo")
        self.engine.addItems(ENGINES)
        self.guidance = QDoubleSpinBox()
        self.guidance.setObjectName("guidanceSpin")
        self.guidance.setRange(0.0, 20.0)
        self.guidance.setSingleStep(0.5)
        self.guidance.setValue(DEFAULT_GUIDANCE[self.engine.currentText()])
        self.guidance.setToolTip("Classifier-free guidance: higher follows the text more closely, with less variety "
                                 "(each engine starts at its measured best: "
                                 + ", ".join(f"{e} {DEFAULT_GUIDANCE[e]:g}" for e in ENGINES) + ")")
        self._engine_shown = self.engine.currentText()
        self.engine.currentTextChanged.connect(self._on_engine_changed)
        self.cleanup = QCheckBox("Clean up feet")
        self.cleanup.setObjectName("cleanupCheck")
        self.cleanup.setChecked(True)
        self.cleanup.setToolTip("Hold planted feet still and re-solve the legs by IK after every generation and edit "
                                "(locked keys never move; Edit upper body keeps the legs as they are)")

        form = QFormLayout()
        length_row = QHBoxLayout()
        length_row.addWidget(self.length, 1)
        length_row.addWidget(self.auto_length)
        form.addRow("Length", length_row)
        form.addRow("Seed", self.seed)
        form.addRow("Engine", self.engine)
        form.addRow("Guidance", self.guidance)
        form.addRow("", self.cleanup)

        self.buttons: dict[str, QPushButton] = {}
        generate = QGroupBox("Generate")
        generate_layout = QVBoxLayout(generate)
        prompt_row = QHBoxLayout()
        prompt_row.addWidget(self.prompt, 1)
        prompt_row.addWidget(self.known_actions, 0, Qt.AlignmentFlag.AlignTop)
        generate_layout.addLayout(prompt_row)
        self.suggestions = QLabel("Try: " + " · ".join(f'<a href="{i}">{text.removeprefix("a person ")}</a>'
                                                       for i, text in enumerate(SUGGESTED_PROMPTS)))
        self.suggestions.setObjectName("suggestedPrompts")
        self.suggestions.setWordWrap(True)
        self.suggestions.setToolTip("Click one to put it in the prompt box, then Generate (Ctrl+Enter)")
        self.suggestions.linkActivated.connect(lambda index: self.prompt.setPlainText(SUGGESTED_PROMPTS[int(index)]))
        generate_layout.addWidget(self.suggestions)
        generate_layout.addWidget(self.prompt_notice)
        generate_layout.addWidget(self.vocab_notice)
        generate_layout.addLayout(form)
        generate_layout.addWidget(self._button("generateButton", "Generate (Ctrl+Enter)", self.generate_requested))
        self.count = self._spin("variationsCount", 2, 12, 4, " takes", "How many takes Variations makes (consecutive seeds)")
        variations_row = QHBoxLayout()
        variations_row.addWidget(self._button("variationsButton", "Variations", self.variations_requested), 1)
        variations_row.addWidget(self.count)
        generate_layout.addLayout(variations_row)
        edit = QGroupBox("Edit the take")
        edit_layout = QVBoxLayout(edit)
        for name, text, signal in (
            ("inbetweenButton", "In-between unlocked frames", self.inbetween_requested),
            ("regenerateButton", "Regenerate selection", self.regenerate_requested),
            ("editUpperButton", "Edit upper body in selection", self.edit_upper_requested),
            ("longTakeButton", "Build long take from segments", self.long_take_requested),
        ):
            edit_layout.addWidget(self._button(name, text, signal))
            if name == "inbetweenButton":
                self.extend = QCheckBox("Also before the first and after the last key")
                self.extend.setObjectName("extendCheck")
                self.extend.setToolTip("In-between fills the frames between the first and the last key; checked, it "
                                       "regenerates every unlocked frame of the take")
                self.extend.toggled.connect(self.update_buttons)
                edit_layout.addWidget(self.extend)
        layout = QVBoxLayout(self)
        layout.addWidget(generate)
        layout.addWidget(edit)
        layout.addStretch(1)

        self._busy = False
        for signal in (document.events.take_changed, document.events.locks_changed,
                       document.events.selection_changed, document.events.segments_changed):
            signal.connect(lambda *_: self.update_buttons())
        self.prompt.textChanged.connect(self.update_buttons)
        self.prompt.textChanged.connect(self._update_prompt_notice)
        self.prompt.textChanged.connect(self._forget_vocab_warning)
        generate_key = QShortcut(QKeySequence("Ctrl+Return"), self.prompt, context=Qt.ShortcutContext.WidgetShortcut)
        generate_key.activated.connect(self.buttons["generateButton"].animateClick)  # only when the button is enabled
        self.update_buttons()

    def _spin(self, name: str, lo: int, hi: int, value: int, suffix: str, tip: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setObjectName(name)
        spin.setRange(lo, hi)
        spin.setValue(value)
        spin.setSuffix(suffix)
        spin.setToolTip(tip)
        return spin

    def _button(self, name: str, text: str, signal: Signal) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.clicked.connect(lambda: self._request(signal))
        self.buttons[name] = button
        return button

    def _known_actions_button(self) -> QToolButton:
        """"?" beside the prompt: a menu of the actions the models were trained on; picking one types its example."""
        button = QToolButton()
        button.setObjectName("knownActionsButton")
        button.setText("?")
        button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        if self.vocabulary is None:
            button.setEnabled(False)
            button.setToolTip("No vocabulary file (checkpoints/vocabulary.safetensors): build it with `kinema data vocab`")
            return button
        button.setToolTip("Known actions: what the models were trained on (pick one to use its example prompt)")
        menu = QMenu(button)
        menu.setObjectName("knownActionsMenu")
        for action in self.vocabulary.known_actions():
            few = ", few examples" if action.rare else ""
            item = menu.addAction(f"{action.label}  ({action.takes} takes{few})")
            item.setToolTip(action.example)
            item.setData(action.example)
            item.triggered.connect(lambda _=False, text=action.example: self.prompt.setPlainText(text))
        menu.setToolTipsVisible(True)
        button.setMenu(menu)
        return button

    def prompt_check(self, text: str) -> PromptCheck | None:
        """The vocabulary check of `text`, or None where it cannot be made (no vocabulary file, no text encoder)."""
        if self.vocabulary is None or not text:
            return None
        try:
            return self.vocabulary.check(text, get_text_encoder())
        except (TextEncoderUnavailable, CheckpointError):
            return None

    def _request(self, signal: Signal) -> None:
        """Emit the button's request, unless its prompt is out of the models' vocabulary and the user has not yet
        seen the warning: then show it (with the nearest known actions) and let a second press go ahead."""
        params = self.parameters()
        if signal is not self.long_take_requested and params["text"] != self._warned_prompt:
            check = self.prompt_check(params["text"])
            warning = check.message() if check else ""
            if check and not check.known:  # short under the box (the panel is narrow), the whole message on hover
                self._warned_prompt = params["text"]
                nearest = ", ".join(action.label for action, _, _ in check.nearest)
                self.vocab_notice.setText(f"Far from what the models know: expect a generic motion. Nearest known "
                                          f"actions: {nearest}. Press again to run it anyway.")
                self.vocab_notice.setToolTip(warning)
                self.vocab_notice.show()
                return
            self.vocab_notice.setText(warning)  # a rare action: said, but no need to stop
            self.vocab_notice.setToolTip(warning)
            self.vocab_notice.setVisible(bool(warning))
        signal.emit(params)

    def parameters(self) -> dict:
        doc = self.document
        return {
            "text": self.prompt.toPlainText().strip(),
            "n_frames": None if self.auto_length.isChecked() else self.length.value(),  # None: predicted
            "seed": self.seed.value(),
            "engine": self.engine.currentText(),
            "guidance": self.guidance.value(),
            "cleanup": self.cleanup.isChecked(),
            "selection": doc.selection,
            "locked_frames": doc.locked_frames,
            "segments": list(doc.segments),
            "count": self.count.value(),
            "extend": self.extend.isChecked(),
        }

    def settings(self) -> dict:
        """What a project remembers of the panel."""
        return {"prompt": self.prompt.toPlainText(), "length": self.length.value(), "seed": self.seed.value(),
                "engine": self.engine.currentText(), "guidance": self.guidance.value(), "cleanup": self.cleanup.isChecked(),
                "auto_length": self.auto_length.isChecked()}

    def _on_engine_changed(self, engine: str) -> None:
        """Guidance follows the engine's default unless the user set another value for the engine before."""
        if self.guidance.value() == DEFAULT_GUIDANCE.get(self._engine_shown) and engine in DEFAULT_GUIDANCE:
            self.guidance.setValue(DEFAULT_GUIDANCE[engine])
        self._engine_shown = engine

    def apply_settings(self, settings: dict) -> None:
        """Restore a project's panel values; values of the wrong kind (a hand-edited file) are skipped."""
        if settings.get("engine") in ENGINES:  # first: the engine's default guidance, then the project's own
            self.engine.setCurrentText(settings["engine"])
        if isinstance(settings.get("prompt"), str):
            self.prompt.setPlainText(settings["prompt"])
        for key, spin in (("length", self.length), ("seed", self.seed)):
            if isinstance(settings.get(key), int) and not isinstance(settings[key], bool):
                spin.setValue(settings[key])
        if isinstance(settings.get("guidance"), (int, float)) and not isinstance(settings["guidance"], bool):
            self.guidance.setValue(float(settings["guidance"]))
        if isinstance(settings.get("cleanup"), bool):
            self.cleanup.setChecked(settings["cleanup"])
        if isinstance(settings.get("auto_length"), bool):
            self.auto_length.setChecked(settings["auto_length"])

    def _update_prompt_notice(self) -> None:
        """A prompt longer than the encoder reads says, under the box, which words it ignores."""
        try:
            ignored = ignored_words(self.prompt.toPlainText())
        except TextEncoderUnavailable:
            ignored = ""
        self.prompt_notice.setText(f"The text encoder reads the first {MAX_TOKENS} tokens; it ignores “{ignored}”. "
                                   "Shorten the prompt, or split it into segments." if ignored else "")
        self.prompt_notice.setVisible(bool(ignored))

    def _forget_vocab_warning(self) -> None:
        if self.prompt.toPlainText().strip() != self._warned_prompt:
            self._warned_prompt = ""
            self.vocab_notice.hide()

    def set_busy(self, busy: bool) -> None:
        """While a job runs every button waits, so two jobs never edit the same take."""
        self._busy = busy
        self.update_buttons()

    def update_buttons(self) -> None:
        doc = self.document
        has_text = bool(self.prompt.toPlainText().strip())
        reasons = {  # button -> why it cannot run now ("" when it can)
            "generateButton": "" if has_text else "Type a prompt first",
            "variationsButton": "" if has_text else "Type a prompt first",
            "inbetweenButton": "No take yet" if doc.take is None else
            "Lock a keyframe first (K at the playhead)" if not doc.locked_frames else
            "Lock two keys with frames between them (or check “Also before the first and after the last key”)"
            if not self.extend.isChecked() and doc.locked_frames[-1] - doc.locked_frames[0] < 2 else
            "" if has_text else "Type a prompt for the frames between the keys",
            "regenerateButton": "No take yet" if doc.take is None else
            "" if doc.selection and has_text else "Select frames (shift-drag on the timeline) and type a prompt",
            "editUpperButton": "No take yet" if doc.take is None else
            "" if doc.selection and has_text else "Select frames (shift-drag on the timeline) and type a prompt",
            "longTakeButton": "" if doc.segments else "Add prompt segments on the timeline (double-click)",
        }
        for name, button in self.buttons.items():
            reason = "A job is running" if self._busy else reasons[name]
            button.setEnabled(not reason)
            button.setToolTip(reason or button.text())
