"""What the models know: the actions of their training captions, and a check that says when a prompt is far from
all of them ("a person swims" against a corpus of walks and waves), with the nearest known actions to suggest.

The captions' MiniLM embeddings are computed once by `kinema data vocab DATASET` and shipped as
checkpoints/vocabulary.safetensors: a few hundred captions per action (near-duplicates dropped) in float16, the
dataset's caption hash and the text encoder's identity in the header, so the studio and the CLI never re-embed the
corpus at start-up. The threshold is calibrated at build time on CALIBRATION_KNOWN and the CALIBRATION_ABSENT
prompts whose activity the corpus has no action for.
"""
from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import torch

from app.engine.data.dataset import DatasetError, _read_spans
from app.engine.models.checkpoint import CheckpointError, atomic_save, read_safetensors
from app.engine.text import TextEncoder, minilm_dir

FORMAT = "kinema-vocabulary/1"
TEXT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
NEAR_DUPLICATE = 0.8  # a caption this close to one already kept (same action) adds nothing to the check: on
# Bandai Namco 0.8 keeps 867 of 10k captions and moves no calibration prompt's nearest similarity
RARE_TAKES = 10  # an action seen in fewer takes than this is listed, and suggested, as "few examples"

# Calibration prompts: paraphrases of actions the training captions cover, and actions absent from them.
# The threshold is set between the two; tests check it on other prompts (tests/engine/test_vocabulary.py).
CALIBRATION_KNOWN = (
    "a person walks forward", "someone strolls ahead", "a man walks slowly", "a woman jogs forward",
    "a person sprints", "a person runs fast", "someone waves hello with the right hand", "a person waves goodbye",
    "a person raises both arms over the head", "a man lifts his left hand", "a person bows politely",
    "a person turns left while walking", "a person walks to the right", "a person walks backwards",
    "a person dashes forward", "a tired man walks", "a person waves both hands happily",
    "a character kicks", "a person punches", "someone points the way",
)
CALIBRATION_ABSENT = (  # (prompt, stems of action names that would make it known in a corpus)
    ("a person swims", ("swim",)), ("a person rides a bicycle", ("bicycl", "bike", "cycling")),
    ("a person juggles", ("juggl",)), ("a person plays the guitar", ("guitar",)),
    ("a person drives a car", ("driv",)), ("a person types on a keyboard", ("typ", "keyboard")),
    ("a person eats a sandwich", ("eat", "consum")), ("a person reads a book", ("read",)),
    ("a person brushes their teeth", ("brush",)), ("a person skis down a slope", ("ski",)),
    ("a person lies down and sleeps", ("sleep", "lie", "lying")),
    ("a person drinks a cup of coffee", ("drink", "consum")), ("a person paints a wall", ("paint",)),
    ("a person climbs a rope", ("climb",)),
)


def absent_prompts(action_names: list[str]) -> list[str]:
    """The calibration prompts about activities this corpus has no action for (a corpus with swimming takes must
    not calibrate "a person swims" as absent)."""
    names = " ".join(a.lower() for a in action_names)
    return [prompt for prompt, stems in CALIBRATION_ABSENT if not any(stem in names for stem in stems)]


# Every training caption names who moves ("a person", "someone", "the man"...); a bare "run" or "waves goodbye"
# is compared as "a person run", or it would look far from captions that all carry a subject.
SUBJECT_WORDS = frozenset(("person", "man", "woman", "someone", "somebody", "he", "she", "they", "character", "figure",
                           "guy", "girl", "boy", "lady", "people", "human", "actor", "dancer", "i", "we", "you"))


def as_caption(prompt: str) -> str:
    """The prompt in the captions' form: with a subject where it has none."""
    words = {w.strip(".,;:!?").lower() for w in prompt.split()}
    return prompt if words & SUBJECT_WORDS else f"a person {prompt}"


class VocabularyMismatch(CheckpointError):
    """The vocabulary file was built with another text encoder than the one installed."""


@dataclass(frozen=True)
class Action:
    name: str  # the dataset's content label, e.g. "raise-up-both-hands"
    takes: int  # distinct captured takes in the training split (mirrored copies not counted)
    minutes: float  # training-split minutes, mirrored copies included
    example: str  # the caption most typical of the action (highest mean similarity to its others)

    @property
    def label(self) -> str:
        return self.name.replace("-", " ")

    @property
    def rare(self) -> bool:
        return self.takes < RARE_TAKES


@dataclass(frozen=True)
class PromptCheck:
    prompt: str
    similarity: float  # cosine similarity to the closest training caption
    threshold: float
    nearest: list[tuple[Action, str, float]]  # (action, its closest caption, similarity), best first, distinct actions

    @property
    def known(self) -> bool:
        return self.similarity >= self.threshold

    @property
    def rare(self) -> Action | None:
        """The closest action when the models saw few takes of it (they will do it poorly)."""
        return self.nearest[0][0] if self.known and self.nearest and self.nearest[0][0].rare else None

    def suggestions(self) -> str:
        return "; ".join(f"{a.label} (“{a.example or caption}”)" for a, caption, _ in self.nearest)

    def message(self) -> str:
        """One warning in the user's words, or "" when the prompt is within what the models know."""
        if not self.known:
            return (f"“{self.prompt}” is far from everything the models were trained on (similarity "
                    f"{self.similarity:.2f} < {self.threshold:.2f}): expect a generic motion. Nearest known actions: "
                    f"{self.suggestions()}.")
        if self.rare is not None:
            return (f"The models saw only {self.rare.takes} take(s) of “{self.rare.label}”: expect a weak "
                    "rendition of it.")
        return ""


def caption_hash(captions: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(captions)).encode()).hexdigest()


def text_encoder_identity() -> str:
    """The model's name and the hash of its weights: a vocabulary is valid only with the encoder that built it."""
    digest = hashlib.sha256()
    with open(minilm_dir() / "model.safetensors", "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"{TEXT_ENCODER} sha256:{digest.hexdigest()}"


def training_captions(root: str | Path) -> tuple[list[tuple[str, str]], dict[str, Action]]:
    """(caption, action) of every training-split motion, and per action its takes and minutes.
    The action is the motion's `content` label (labels.json), or "" for datasets without labels."""
    import numpy as np

    root = Path(root)
    split = root / "train.txt"
    if not split.exists():
        raise DatasetError(f"{root}: no train.txt; build the dataset first (`kinema data build`)")
    labels_path = root / "labels.json"
    labels = json.loads(labels_path.read_text()) if labels_path.exists() else {}
    fps = float(json.loads((root / "kinema.json").read_text())["fps"]) if (root / "kinema.json").exists() else 20.0
    pairs: list[tuple[str, str]] = []
    takes: dict[str, set[str]] = defaultdict(set)
    frames: dict[str, int] = defaultdict(int)
    for name in filter(None, (n.strip() for n in split.read_text().splitlines())):
        text_path = root / "texts" / f"{name}.txt"
        if not text_path.exists():
            continue
        label = labels.get(name, {})
        action = label.get("content", "")
        pairs.extend((caption, action) for caption, _, _ in _read_spans(text_path))
        takes[action].add(name.removeprefix("M") if label.get("mirrored") else name)
        vec = root / "new_joint_vecs" / f"{name}.npy"
        if vec.exists():
            frames[action] += int(np.load(vec, mmap_mode="r").shape[0])
    if not pairs:
        raise DatasetError(f"{root}: the train split has no captions")
    actions = {a: Action(a, len(t), frames[a] / fps / 60, "") for a, t in takes.items()}
    return pairs, actions


class Vocabulary:
    """Caption embeddings of a training corpus, with the actions they belong to and the calibrated threshold."""

    def __init__(self, captions: list[str], caption_actions: list[str], embeddings: torch.Tensor,
                 actions: dict[str, Action], threshold: float, meta: dict[str, str]) -> None:
        self.captions = captions
        self.caption_actions = caption_actions
        self.embeddings = embeddings.float()  # (captions, 384), L2-normalised
        self.actions = actions
        self.threshold = threshold
        self.meta = meta
        self._verified = False

    def known_actions(self) -> list[Action]:
        """Named actions, the most practised first."""
        return sorted((a for a in self.actions.values() if a.name), key=lambda a: (-a.takes, a.name))

    def similarities(self, prompts: list[str], encoder: TextEncoder) -> torch.Tensor:
        """(prompts, captions) cosine similarities; the first call checks the encoder is the one that built us."""
        if not self._verified:
            probe = encoder.encode_sentences([self.captions[0]])[0].cpu()
            if float(probe @ self.embeddings[0]) < 0.995:
                raise VocabularyMismatch(
                    f"the vocabulary file was built with another text encoder ({self.meta.get('text_encoder')}); "
                    "rebuild it with `kinema data vocab DATASET`")
            self._verified = True
        return encoder.encode_sentences(prompts).cpu().float() @ self.embeddings.T

    def check(self, prompt: str, encoder: TextEncoder, n_suggestions: int = 3) -> PromptCheck:
        sims = self.similarities([as_caption(prompt)], encoder)[0]
        best: dict[str, tuple[float, int]] = {}
        for i in torch.argsort(sims, descending=True).tolist():
            action = self.caption_actions[i] or self.captions[i]
            if action not in best:
                best[action] = (float(sims[i]), i)
                if len(best) == n_suggestions:
                    break
        nearest = [(self.actions.get(a) or Action(a, 0, 0.0, self.captions[i]), self.captions[i], s)
                   for a, (s, i) in best.items()]
        return PromptCheck(prompt, float(sims.max()), self.threshold, nearest)

    def calibrate(self, encoder: TextEncoder) -> dict[str, float]:
        """Put the threshold midway between the least similar known paraphrase and the most similar absent
        action; refuse when they overlap (the corpus does not separate them, and a warning would mislead)."""
        absent_list = absent_prompts(list(self.actions))
        if len(absent_list) < 4:
            raise ValueError(f"cannot calibrate: the corpus has actions for all but {len(absent_list)} of the built-in "
                             "prompts about absent activities; give --threshold")
        known = self.similarities([as_caption(p) for p in CALIBRATION_KNOWN], encoder).max(1).values
        absent = self.similarities([as_caption(p) for p in absent_list], encoder).max(1).values
        low_known, high_absent = float(known.min()), float(absent.max())
        if low_known <= high_absent:
            worst_k = CALIBRATION_KNOWN[int(known.argmin())]
            worst_a = absent_list[int(absent.argmax())]
            raise ValueError(f"cannot calibrate: the known paraphrase “{worst_k}” ({low_known:.3f}) is no closer to "
                             f"the captions than the absent action “{worst_a}” ({high_absent:.3f})")
        self.threshold = round((low_known + high_absent) / 2, 3)
        return {"lowest_known": low_known, "highest_absent": high_absent, "threshold": self.threshold}

    def save(self, path: str | Path) -> None:
        meta = dict(self.meta, format=FORMAT, threshold=f"{self.threshold:.3f}",
                    captions=json.dumps(self.captions), caption_actions=json.dumps(self.caption_actions),
                    actions=json.dumps([a.__dict__ for a in self.actions.values()]))
        atomic_save({"embeddings": self.embeddings.half()}, meta, path)

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        tensors, header = read_safetensors(path)
        if header.get("format") != FORMAT or "embeddings" not in tensors:
            raise CheckpointError(f"{path}: not a Kinema vocabulary file (build one with `kinema data vocab`)")
        actions = {a["name"]: Action(**a) for a in json.loads(header["actions"])}
        meta = {k: header[k] for k in ("dataset", "dataset_hash", "text_encoder", "calibration") if k in header}
        return cls(json.loads(header["captions"]), json.loads(header["caption_actions"]), tensors["embeddings"],
                   actions, float(header["threshold"]), meta)


def shipped_vocabulary_path() -> Path:
    from app.engine.models.checkpoint import SHIPPED

    return SHIPPED / "vocabulary.safetensors"


_loaded: dict[Path, Vocabulary] = {}


def load_vocabulary(path: str | Path | None = None) -> Vocabulary:
    """The shipped vocabulary (or `path`), read once per process."""
    path = Path(path) if path else shipped_vocabulary_path()
    if path not in _loaded:
        _loaded[path] = Vocabulary.load(path)
    return _loaded[path]


def _keep_distinct(embeddings: torch.Tensor, limit: float) -> list[int]:
    """Greedy cover: indices of rows such that every dropped row is within `limit` cosine of a kept one."""
    kept: list[int] = []
    for i in range(len(embeddings)):
        if not kept or float((embeddings[kept] @ embeddings[i]).max()) < limit:
            kept.append(i)
    return kept


def build_vocabulary(root: str | Path, encoder: TextEncoder, threshold: float | None = None,
                     progress=None) -> tuple[Vocabulary, dict[str, float]]:
    """Embed the dataset's distinct training captions, drop near-duplicates per action, pick each action's typical
    caption, and calibrate the threshold (or take `threshold` as given, for a corpus the calibration prompts do not
    fit). Returns the vocabulary and its calibration numbers."""
    pairs, actions = training_captions(root)
    by_action: dict[str, list[str]] = defaultdict(list)
    for caption, action in dict.fromkeys(pairs):
        by_action[action].append(caption)
    captions: list[str] = []
    caption_actions: list[str] = []
    rows: list[torch.Tensor] = []
    for action, texts in (progress or (lambda it: it))(sorted(by_action.items())):
        emb = torch.cat([encoder.encode_sentences(texts[i : i + 128]).cpu() for i in range(0, len(texts), 128)])
        typical = int((emb @ emb.T).mean(1).argmax())
        actions[action] = Action(action, actions[action].takes, actions[action].minutes, texts[typical])
        kept = [typical] + [i for i in _keep_distinct(emb, NEAR_DUPLICATE) if i != typical]
        captions.extend(texts[i] for i in kept)
        caption_actions.extend([action] * len(kept))
        rows.append(emb[kept])
    meta = {"dataset": Path(root).resolve().name, "dataset_hash": caption_hash([c for c, _ in pairs]),
            "text_encoder": text_encoder_identity()}
    vocabulary = Vocabulary(captions, caption_actions, torch.cat(rows), actions, 0.0, meta)
    if threshold is None:
        calibration = vocabulary.calibrate(encoder)
    else:
        vocabulary.threshold = threshold
        calibration = {"threshold": threshold}
    vocabulary.meta["calibration"] = json.dumps({k: round(v, 4) for k, v in calibration.items()})
    return vocabulary, calibration


def actions_markdown(vocabulary: Vocabulary) -> str:
    """The known-actions table for the README (what `kinema data vocab` prints)."""
    lines = ["| action | takes | minutes | for example |", "|---|---:|---:|---|"]
    for a in vocabulary.known_actions():
        lines.append(f"| {a.label}{' (few examples)' if a.rare else ''} | {a.takes} | {a.minutes:.1f} | {a.example} |")
    return "\n".join(lines)
