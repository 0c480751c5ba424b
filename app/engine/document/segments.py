"""Where a long take's prompts fall: the segments as the animator placed them on the prompt track, turned into the
consecutive pieces the take is built from, so each prompt starts in the take where its segment starts."""
from __future__ import annotations

from app.engine.document.model import Segment


def placed(segments: list[Segment]) -> list[Segment]:
    """The segments in start order, each running from its start to the next one's (a gap after a segment is
    that segment's too; a segment overlapped by the next ends where the next begins), the last to its own end,
    and the first from frame 0 (a take starts with its first prompt). The result tiles [0, the last end)."""
    ordered = sorted(segments, key=lambda s: s.start)
    if not ordered:
        return []
    starts = [0] + [s.start for s in ordered[1:]]
    ends = starts[1:] + [max(ordered[-1].end, starts[-1] + 1)]
    return [Segment(s.text, a, b - a) for s, a, b in zip(ordered, starts, ends)]
