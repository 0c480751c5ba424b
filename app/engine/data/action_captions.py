"""Captions and action labels from free text: CMU's terse descriptions ("forward jumps, turn around") and game
animation names ("Jump_Start", "Punch_Jab"), in the Bandai captions' varied style (subjects, verb phrases).

Known actions have several verb phrases each; an unknown part is read as a verb phrase itself ("dangle legs" ->
"dangles legs"). Directions in the text (forward, backward, left, right, around) are kept.
"""
from __future__ import annotations

import random
import re

from app.engine.data.descriptions import _SUBJECTS

# (action label, pattern on the lower-case text, verb phrases in the third person; {pos} is the possessive)
ACTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("backflip", r"backflip|back flip", ("does a backflip", "flips backward", "performs a back flip")),
    ("jumping jacks", r"jumping jack", ("does jumping jacks", "jumps with arms and legs spreading and closing")),
    ("push-up", r"push ?up", ("does push-ups", "lowers {pos} chest to the floor and pushes up")),
    ("push", r"\bpush", ("pushes something", "pushes forward with both hands", "pushes")),
    ("ballet", r"arabesque|jete|pirouette|glissade|coupe|rond de jambe|plie|pointe|tendue|retire|cou de pied|tiptoe",
     ("does a ballet move", "dances ballet", "performs ballet steps")),
    ("dribble", r"dribbl", ("dribbles a basketball", "dribbles a ball", "bounces a basketball")),
    ("jab", r"\bjab", ("throws a jab", "punches forward with a quick jab", "jabs")),
    ("punch", r"punch|cross\b", ("throws a punch", "punches forward", "punches")),
    ("box", r"\bbox", ("boxes", "shadow boxes", "throws punches like a boxer")),
    ("kick", r"\bkick", ("kicks", "kicks out", "kicks forward")),
    ("martial arts", r"martial|kung|karate|fighting", ("does martial arts moves", "performs a martial arts routine",
                                                      "fights with martial arts strikes")),
    ("salsa", r"salsa", ("dances salsa", "does salsa steps", "dances the salsa")),
    ("indian dance", r"indian", ("does an indian dance", "dances an indian dance", "performs indian dance steps")),
    ("dance", r"danc|charleston|body roll", ("dances", "does a dance", "dances to music")),
    ("climb", r"climb", ("climbs", "climbs up", "climbs over something")),
    ("jump", r"jump|hop|leap", ("jumps", "jumps up", "leaps")),
    ("sit", r"\bsit|seat", ("sits down", "takes a seat", "sits")),
    ("stand up", r"stand up|get up|rise", ("stands up", "gets up", "rises to {pos} feet")),
    ("crouch", r"crouch|squat|kneel", ("crouches", "crouches down low", "squats down")),
    ("crawl", r"crawl", ("crawls on all fours", "crawls forward", "crawls")),
    ("roll", r"\broll", ("rolls on the ground", "does a roll", "rolls forward")),
    ("sword", r"sword|slash", ("swings a sword", "attacks with a sword", "slashes with a sword")),
    ("swim", r"swim", ("makes swimming strokes", "swims")),
    ("run", r"\brun|jog|sprint", ("runs", "jogs", "runs along")),
    ("walk", r"\bwalk|stroll|step", ("walks", "walks along", "takes steps")),
    ("turn", r"\bturn", ("turns around", "turns", "spins around")),
    ("bow", r"\bbow", ("bows", "takes a bow", "bows politely")),
    ("wave", r"wave|greet", ("waves hello", "greets someone with a wave", "waves")),
    ("celebrate", r"victory|cheer|fist pump", ("celebrates a victory", "cheers with raised fists", "celebrates")),
    ("shoot", r"pistol|shoot|aim", ("aims and shoots a pistol", "shoots a gun", "points a pistol and fires")),
    ("hit reaction", r"\bhit\b|death|die", ("reels from a hit", "is struck and staggers", "reacts to being hit")),
    ("throw", r"throw", ("throws something", "throws an object", "makes a throwing motion")),
    ("pick up", r"pick ?up|lift", ("picks something up", "bends down and picks up an object")),
    ("nod", r"\bnod", ("nods {pos} head", "nods", "nods yes")),
    ("twist", r"rotat|twist", ("twists {pos} upper body", "rotates {pos} torso",
                               "turns {pos} upper body from side to side")),
    ("confused", r"confus", ("looks confused", "scratches {pos} head, confused", "looks around in confusion")),
    ("dizzy", r"dizz", ("sways, dizzy", "staggers dizzily", "wobbles as if dizzy")),
    ("tired", r"tired|exhaust", ("stands hunched and tired", "slumps, exhausted", "droops with fatigue")),
    ("angry", r"angr", ("stomps angrily", "gestures angrily", "acts angry")),
    ("drive", r"\bdriv", ("mimes driving a car", "steers a car", "drives a car")),
    ("consume", r"consum|\beat|drink", ("drinks from a bottle", "eats and drinks something", "consumes an item")),
    ("levitate", r"levitat", ("levitates", "floats up off the ground", "rises into the air, levitating")),
    ("meditate", r"meditat", ("meditates", "sits and meditates", "meditates calmly")),
    ("sleep", r"sleep", ("lies asleep", "sleeps", "lies down and sleeps")),
    ("defend", r"defend|block", ("raises {pos} arms to defend", "blocks an attack", "defends")),
    ("reject", r"reject", ("shakes {pos} head no", "waves something away, rejecting it", "rejects something")),
    ("interact", r"interact", ("reaches out and interacts with something", "handles an object in front of them",
                               "interacts with something")),
    ("expressive", r"expressive", ("gestures expressively with {pos} arms", "moves {pos} arms expressively")),
    ("idle", r"idle|rest|stand|wait", ("stands still", "stands idle", "waits in place")),
)
_MOVES = {"forward", "backward", "sideways", "around", "down", "up"}
_NOT_WORDS = re.compile(r"\b(loop|enter|exit|start|rm|01|02|super)\b")
_SWAPS = {"fwd": "forward", "bwd": "backward", "l": "left", "r": "right"}


def clean(text: str) -> str:
    """"Jog_Fwd_Loop" -> "jog forward"; CMU text lower-cased with spaces normalised."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text).replace("_", " ").replace("-", " ").lower()
    words = [_SWAPS.get(w, w) for w in _NOT_WORDS.sub(" ", text).split()]
    return " ".join(words)


def action_of(text: str) -> str:
    """The action label of a text: the first known action it names, else its first word."""
    text = clean(text)
    for label, pattern, _ in ACTIONS:
        if re.search(pattern, text):
            return label
    words = [w for w in text.split() if w not in _MOVES]
    return words[0] if words else "move"


_NOUN_STARTS = {"arms", "arm", "hands", "hand", "legs", "leg", "head", "body", "upper", "torso", "feet", "foot"}


def _verb_phrase(words: list[str]) -> str:
    """An unknown description read as a verb phrase: "dangle legs" -> "dangles legs", "driving" -> "is driving",
    "arms held high" -> "moves with arms held high" (a phrase that starts with a body part names no verb),
    "raised leg above hip height" -> "moves with raised leg above hip height", "scared" -> "is scared" (nor does a
    past participle)."""
    first, rest = words[0], words[1:]
    participle = first.endswith("ed") and not first.endswith("eed") and len(first) > 4
    if participle and not rest:
        return f"is {first}"
    if first in _NOUN_STARTS or participle:
        return " ".join(["moves with", *words])
    if first.endswith("ing") and len(first) > 4:
        return " ".join(["is", *words])
    return " ".join([_third_person(first), *rest])


def _third_person(word: str) -> str:
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es" if not word.endswith("s") else word
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def verb_phrases(part: str, name_limb: bool = True) -> list[str]:
    """Third-person verb phrases for one description part, keeping its direction words; name_limb=False leaves out
    which leg kicks or which hand jabs, punches or waves ("kicks" for "kick right")."""
    text = clean(part)
    words = text.split()
    for label, pattern, phrases in ACTIONS:
        found = re.search(pattern, text)
        if found:
            named = set(found.group(0).split())  # "push up", "stand up": the direction is the action's own word
            extra = ["in place"] if "place" in words else [d for d in words if d in _MOVES and d not in named][:1]
            limb = {"kick": "leg", "jab": "hand", "punch": "hand", "wave": "hand"}.get(label)
            for side in ("left", "right"):
                if side in words:
                    extra.append(f"with {{pos}} {side} {limb}" if limb else f"to the {side}")
            if extra:  # "jumps up" would clash with "down": keep the phrases that name no direction of their own
                phrases = tuple(p for p in phrases if not set(p.split()) & _MOVES) or phrases
            if "place" in words:
                phrases = tuple(" ".join(w for w in p.split() if w not in _MOVES) for p in phrases)
            if limb and not name_limb:
                extra = [e for e in extra if not e.startswith("with {pos}")]
            return [" ".join([p, *(e for e in extra if e.split()[0] not in p.split())]) for p in dict.fromkeys(phrases)]
    return [_verb_phrase(words)] if words else ["moves"]


def captions(parts: list[str], n: int, rng: random.Random) -> list[str]:
    """n distinct captions for a motion whose description parts are `parts`, e.g. ["forward jumps",
    "turn around"] -> "someone jumps forward, then turns around". Every second caption leaves out which leg kicks or
    which hand jabs, as people describing a motion often do ("a man kicks"), so a plain prompt finds these motions
    too; the others name it."""
    named = [verb_phrases(p) for p in parts] or [["moves"]]
    plain = [verb_phrases(p, name_limb=False) for p in parts] or [["moves"]]
    seen: dict[str, None] = {}
    for _ in range(20 * n):
        subject, pos = rng.choice(_SUBJECTS)
        phrases = [rng.choice(o).format(pos=pos) for o in (plain if len(seen) % 2 else named)]
        if any(a == b for a, b in zip(phrases, phrases[1:])):  # "kicks, then kicks": draw again
            continue
        joined = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + ", then " + phrases[-1]
        seen[f"{subject} {joined}"] = None
        if len(seen) == n:
            break
    return list(seen)
