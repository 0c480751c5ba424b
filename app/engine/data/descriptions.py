"""Natural-language captions for Bandai Namco takes, in HumanML3D's style and file format.

The dataset only labels each take with a content ("walk-left") and a style ("tired").
Text-to-motion training needs varied free-text captions instead, so `describe` expands a
label pair into sentences like "an exhausted woman walks to the left" or "someone kicks
angrily", mixing subjects, phrasings and adverb placements so the model learns the meaning
rather than a template. `mirror_text` keeps captions right for left/right-mirrored motions,
and `humanml3d_line` writes them as texts/*.txt lines next to HumanML3D data.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

# --------------------------------------------------------------------------- mirroring

_SIDE = re.compile(r"\b(left|right)(wards?|most)?\b", re.IGNORECASE)
_SPIN = re.compile(r"\b(counter-?|anti-?)?(clockwise)\b", re.IGNORECASE)


def _match_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    return word.capitalize() if like[:1].isupper() else word


def mirror_text(text: str) -> str:
    """Swap left<->right (and clockwise<->counterclockwise) so a caption fits its mirrored motion."""
    text = _SIDE.sub(lambda m: _match_case("right" if m[1].lower() == "left" else "left", m[1]) + (m[2] or ""), text)
    return _SPIN.sub(lambda m: _match_case("clockwise" if m[1] else "counterclockwise", m[0]), text)


# --------------------------------------------------------------------------- vocabulary
# Verb phrases are third person singular; {pos} is the subject's possessive (his/her/their).
# Right-sided contents are generated from the left ones with mirror_text so both stay in sync.

_LEFT_PHRASES: dict[str, list[str]] = {
    "walk-left": [
        "walks to the left",
        "sidesteps to the left",
        "steps sideways to the left",
        "shuffles sideways to {pos} left",
        "takes small steps to the left",
    ],
    "walk-turn-left": [
        "walks forward and turns left",
        "walks and turns to the left",
        "walks forward then turns to {pos} left",
        "walks ahead and makes a left turn",
        "walks in a curve to the left",
    ],
    "wave-left-hand": [
        "waves {pos} left hand",
        "waves with {pos} left hand",
        "waves with the left hand",
        "raises {pos} left hand and waves",
        "waves hello with {pos} left hand",
    ],
    "raise-up-left-hand": [
        "raises {pos} left hand",
        "raises the left hand up",
        "lifts {pos} left arm up",
        "puts {pos} left hand up in the air",
        "raises {pos} left arm above {pos} head",
    ],
}

CONTENT_PHRASES: dict[str, list[str]] = {
    "walk": [
        "walks forward",
        "walks straight ahead",
        "walks forward in a straight line",
        "takes several steps forward",
        "walks ahead",
    ],
    "run": ["runs forward", "jogs forward", "runs straight ahead", "runs ahead", "runs forward in a straight line"],
    "dash": [
        "sprints forward",
        "dashes forward",
        "runs forward at full speed",
        "sprints straight ahead",
        "dashes ahead as fast as possible",
    ],
    "walk-back": [
        "walks backward",
        "walks backwards",
        "steps backward",
        "takes several steps backward",
        "walks backward in a straight line",
    ],
    "bow": [
        "bows",
        "takes a bow",
        "bends forward at the waist to bow",
        "bows {pos} head and upper body",
        "gives a bow",
    ],
    "bye": [
        "waves goodbye",
        "waves goodbye with one hand",
        "waves a hand to say goodbye",
        "says goodbye with a wave",
        "waves bye",
    ],
    "byebye": [
        "waves goodbye",
        "waves goodbye several times",
        "waves a hand back and forth to say goodbye",
        "keeps waving goodbye",
        "waves bye bye",
    ],
    "guide": [
        "gestures the way with {pos} arm",
        "points the way with an outstretched arm",
        "guides someone by gesturing in a direction",
        "extends an arm to show the way",
        "shows someone the way with a sweep of {pos} arm",
    ],
    "respond": [
        "responds to someone",
        "acknowledges someone with a gesture",
        "nods and gestures in response",
        "answers someone with a small gesture",
        "gives a response to someone",
    ],
    "call": [
        "beckons someone over",
        "calls someone over with a wave of {pos} hand",
        "waves someone over",
        "gestures for someone to come closer",
        "calls someone to come over",
    ],
    "punch": ["punches", "throws a punch", "punches forward", "throws punches with {pos} fists", "punches the air"],
    "kick": ["kicks", "kicks forward", "kicks with one leg", "does a kick", "kicks out with {pos} leg"],
    "slash": [
        "slashes with a sword",
        "swings a sword in a slashing motion",
        "makes a slashing motion with {pos} arm",
        "slashes as if holding a sword",
        "slashes through the air",
    ],
    "dance-long": [
        "dances",
        "dances for a while",
        "performs a long dance",
        "does a long dance routine",
        "dances in place for a long time",
    ],
    "dance-short": [
        "dances briefly",
        "does a short dance",
        "performs a short dance move",
        "dances for a moment",
        "does a quick dance",
    ],
    "wave-both-hands": [
        "waves both hands",
        "waves with both hands",
        "waves both arms above {pos} head",
        "waves both of {pos} hands",
        "raises both hands and waves",
    ],
    "raise-up-both-hands": [
        "raises both hands",
        "raises both arms up",
        "lifts both hands up above {pos} head",
        "puts both hands up in the air",
        "raises both of {pos} hands",
    ],
}
for _content, _phrases in _LEFT_PHRASES.items():
    CONTENT_PHRASES[_content] = _phrases
    CONTENT_PHRASES[mirror_text(_content)] = [mirror_text(p) for p in _phrases]


@dataclass(frozen=True)
class StyleWords:
    """How a style can enter a sentence; any field may be empty (normal uses none)."""

    adverbs: tuple[str, ...] = ()  # one word: before the verb or at the end
    manners: tuple[str, ...] = ()  # trailing phrases: "like an old person"
    adjectives: tuple[str, ...] = ()  # "a tired woman"
    subjects: tuple[tuple[str, str], ...] = ()  # (noun phrase, possessive)


_OLD = StyleWords(
    manners=("like an old person", "like an elderly man", "like an old woman", "the way an old person would"),
    adjectives=("old", "elderly", "aged"),
    subjects=(("an elderly man", "his"), ("an old person", "their"), ("an old woman", "her"), ("an old man", "his")),
)
_MASCULINE = StyleWords(
    manners=("in a masculine way", "in a manly way", "with a manly attitude"),
    adjectives=("masculine", "manly", "macho"),
    subjects=(("a macho man", "his"), ("a manly man", "his")),
)

STYLE_PHRASES: dict[str, StyleWords] = {
    "normal": StyleWords(),
    "happy": StyleWords(
        adverbs=("happily", "cheerfully", "joyfully"),
        manners=("in a happy mood", "in a cheerful way", "with a happy bounce"),
        adjectives=("happy", "cheerful", "joyful"),
    ),
    "sad": StyleWords(
        adverbs=("sadly", "gloomily", "dejectedly"),
        manners=("in a sad way", "with slumped shoulders", "in a gloomy mood"),
        adjectives=("sad", "gloomy", "dejected", "unhappy"),
    ),
    "angry": StyleWords(
        adverbs=("angrily", "furiously", "aggressively"),
        manners=("in an angry way", "in a fit of anger", "with angry movements"),
        adjectives=("angry", "furious", "irritated"),
    ),
    "proud": StyleWords(
        adverbs=("proudly", "confidently", "haughtily"),
        manners=("with {pos} chest puffed out", "in a proud manner", "with a proud posture"),
        adjectives=("proud", "confident", "haughty"),
    ),
    "not-confident": StyleWords(
        adverbs=("timidly", "hesitantly", "shyly", "nervously"),
        manners=("without any confidence", "in an unsure way", "as if lacking confidence"),
        adjectives=("timid", "hesitant", "shy", "insecure"),
    ),
    "masculinity": _MASCULINE,
    "masculine": _MASCULINE,
    "feminine": StyleWords(
        adverbs=("gracefully", "daintily"),
        manners=("in a feminine way", "with feminine movements", "in a ladylike manner"),
        adjectives=("feminine", "graceful", "ladylike"),
    ),
    "childish": StyleWords(
        adverbs=("childishly", "playfully"),
        manners=("like a child", "like a little kid", "in a childish way"),
        adjectives=("childish", "playful"),
    ),
    "old": _OLD,
    "elderly": _OLD,
    "tired": StyleWords(
        adverbs=("tiredly", "wearily", "sluggishly"),
        manners=("as if tired", "like someone who is very tired", "with little energy"),
        adjectives=("tired", "weary", "sleepy"),
    ),
    "exhausted": StyleWords(
        adverbs=("wearily", "tiredly", "sluggishly"),
        manners=("as if completely exhausted", "completely out of energy", "as if worn out"),
        adjectives=("exhausted", "weary", "drained"),
    ),
    "active": StyleWords(
        adverbs=("energetically", "vigorously", "actively", "dynamically"),
        manners=("with a lot of energy", "in an energetic way", "full of energy"),
        adjectives=("energetic", "lively", "active"),
    ),
    "youthful": StyleWords(
        adverbs=("energetically", "lightly", "nimbly"),
        manners=("in a youthful way", "like a young person", "with youthful energy"),
        adjectives=("youthful", "young", "sprightly"),
        subjects=(("a young man", "his"), ("a young woman", "her"), ("a young person", "their")),
    ),
    "musical": StyleWords(
        adverbs=("theatrically", "rhythmically", "dramatically"),
        manners=("like a musical performer", "as if performing in a musical", "in an exaggerated theatrical way"),
        adjectives=("theatrical", "dramatic"),
        subjects=(("a musical actor", "their"), ("a stage performer", "their")),
    ),
    "giant": StyleWords(
        adverbs=("heavily", "ponderously"),
        manners=("like a giant", "with heavy lumbering movements", "as if huge and heavy"),
        adjectives=("giant", "huge", "lumbering"),
        subjects=(("a giant", "their"), ("a huge giant", "their")),
    ),
    "chimpira": StyleWords(
        adverbs=("menacingly", "cockily", "arrogantly"),
        manners=("like a street thug", "with a thuggish swagger", "like a punk looking for trouble"),
        adjectives=("thuggish", "cocky", "menacing"),
        subjects=(("a street thug", "his"), ("a punk", "his"), ("a thug", "his")),
    ),
}

_SUBJECTS = (
    ("a person", "their"),
    ("someone", "their"),
    ("a man", "his"),
    ("a woman", "her"),
    ("the person", "their"),
    ("the figure", "their"),
    ("a character", "their"),
)
_ADJ_NOUNS = (("person", "their"), ("man", "his"), ("woman", "her"), ("figure", "their"), ("character", "their"))


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _templates(content: str, style: str) -> list[list[str]]:
    """All sentences for a label pair, grouped by template so sampling can spread over templates."""
    phrases, words = CONTENT_PHRASES[content], STYLE_PHRASES[style]

    def say(subject: str, pos: str, vp: str, before: str = "", after: str = "") -> str:
        return " ".join(w for w in (subject, before, vp, after) if w).format(pos=pos)

    plain = [say(s, p, vp) for s, p in _SUBJECTS for vp in phrases]
    if words == StyleWords():
        return [plain]
    return [
        [say(s, p, vp, after=a) for s, p in _SUBJECTS for vp in phrases for a in words.adverbs],
        [say(s, p, vp, before=a) for s, p in _SUBJECTS for vp in phrases for a in words.adverbs],
        [say(s, p, vp, after=m) for s, p in _SUBJECTS for vp in phrases for m in words.manners],
        [say(f"{_article(a)} {a} {noun}", p, vp) for a in words.adjectives for noun, p in _ADJ_NOUNS for vp in phrases],
        [say(s, p, vp) for s, p in words.subjects for vp in phrases],
    ]


def describe(content: str, style: str, n: int, rng: random.Random) -> list[str]:
    """n distinct lower-case captions for a take; the seeded rng makes the choice reproducible."""
    if content not in CONTENT_PHRASES:
        raise ValueError(f"unknown content label: {content!r}")
    if style not in STYLE_PHRASES:
        raise ValueError(f"unknown style label: {style!r}")
    pools = [pool for pool in _templates(content, style) if pool]
    for pool in pools:
        rng.shuffle(pool)
    rng.shuffle(pools)
    # Round-robin over templates so a handful of captions still shows varied sentence shapes.
    out: dict[str, None] = {}
    for i in range(max(map(len, pools))):
        for pool in pools:
            if i < len(pool):
                out[pool[i]] = None
    if not 0 <= n <= len(out):
        raise ValueError(f"only {len(out)} distinct captions for {content}/{style}, asked for {n}")
    return list(out)[:n]


# --------------------------------------------------------------------------- HumanML3D text files
# HumanML3D tags with spaCy, drops '-' and non-alphabetic tokens, and lemmatises nouns and verbs
# (except "left"). A lexicon for our own caption vocabulary reproduces that closely enough.

_CLOSED: dict[str, str] = {
    **dict.fromkeys("a an the his her their its this that these those each every some any several all".split(), "DET"),
    **dict.fromkeys("someone something who he she they it him them himself herself themselves".split(), "PRON"),
    **dict.fromkeys("with in on at of from into onto over through across along toward towards by for like "
                    "above below behind before after around up down out off".split(), "ADP"),
    **dict.fromkeys("and or but".split(), "CCONJ"),
    **dict.fromkeys("while as if because".split(), "SCONJ"),
    **dict.fromkeys("not".split(), "PART"),
    **dict.fromkeys("is are was were be been being would".split(), "AUX"),
    **dict.fromkeys("one two three four five".split(), "NUM"),
    **dict.fromkeys("forward forwards backward backwards ahead back away sideways then again twice straight "
                    "very briefly closer possible lightly".split(), "ADV"),
}
_VERBS = set(
    "walk run jog sprint dash step sidestep shuffle turn make take bow bend give wave say keep raise lift put "
    "gesture point guide extend show respond acknowledge nod answer beckon call come punch throw kick do slash "
    "swing hold dance perform stand go look lack puff".split()
)
_ADJECTIVES = {a for w in STYLE_PHRASES.values() for a in w.adjectives} | set(
    "left right both full long short small quick little old elderly young musical thuggish outstretched "
    "tired exhausted happy sad angry proud masculine feminine childish giant huge heavy manly macho "
    "unsure slumped energetic youthful theatrical exaggerated original upper".split()
)
_IRREGULAR = {"does": "do", "did": "do", "done": "do", "goes": "go", "went": "go", "feet": "foot", "says": "say"}


def _lemma(word: str) -> str:
    """Verb/noun lemma for regular English inflections of our vocabulary."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    for suffix, extra in (("ing", "e"), ("ed", "e")):
        stem = word[: -len(suffix)]
        if word.endswith(suffix):
            for cand in (stem, stem + extra, stem[:-1]):
                if cand in _VERBS:
                    return cand
            return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if re.search(r"(ch|sh|ss|x|z)es$", word):
        return word[:-2]
    if word.endswith("s") and not re.search(r"(ss|us|is)$", word):
        return word[:-1]
    return word


def _tag(words: list[str]) -> list[tuple[str, str]]:
    tagged: list[tuple[str, str]] = []
    for i, w in enumerate(words):
        prev = tagged[-1][1] if tagged else ""
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w in ("left", "right"):  # "turns left" / "the left hand" / "to the left"
            pos = "ADV" if prev == "VERB" else "ADJ" if nxt and nxt not in _CLOSED and nxt != "to" and not nxt.endswith("ly") else "NOUN"
        elif w == "to":
            pos = "PART" if nxt in _VERBS else "ADP"
        elif w in _CLOSED:
            pos = _CLOSED[w]
        elif w.endswith("ly") and w not in _ADJECTIVES:
            pos = "ADV"
        elif _lemma(w) in _VERBS and (w.endswith("ing") or prev not in ("DET", "ADJ", "NUM", "VERB")):
            pos = "VERB"
        elif w in _ADJECTIVES and w not in _VERBS:
            pos = "ADJ"
        else:
            pos = "NOUN"
        tagged.append((w, pos))
    return [(_lemma(w) if p in ("NOUN", "VERB") and w != "left" else w, p) for w, p in tagged]


def humanml3d_line(caption: str) -> str:
    """'caption#word/POS ...#0.0#0.0': one line of a HumanML3D texts/*.txt file (whole-take span)."""
    caption = " ".join(caption.replace("#", " ").split())
    words = re.findall(r"[a-z]+", caption.lower().replace("-", "").replace("'s", ""))
    tokens = " ".join(f"{w}/{p}" for w, p in _tag(words))
    return f"{caption}#{tokens}#0.0#0.0"


def parse_humanml3d_text_file(path: str | Path) -> list[str]:
    """Captions of a texts/*.txt file; the caption is everything before the first '#'."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.strip()]
