"""Long work: a 10-minute take (12,000 frames, 60 prompt segments) builds, saves, reopens and exports as BVH, FBX
and glTF with the shipped model, within a memory bound."""
import pytest

from app.engine.long_take import format_long_take, run_long_take

PEAK_MB_BOUND = 6000  # the whole test process, torch and the models included


@pytest.mark.slow
def test_a_ten_minute_take_builds_saves_and_exports(tmp_path):
    result = run_long_take(frames=12_000, segments=60, out_dir=tmp_path)
    assert result.frames == 12_000 and result.segments == 60
    assert set(result.file_mb) == {"long.bvh", "long.fbx", "long.glb", "long.kinema"}
    assert all(mb > 0.1 for mb in result.file_mb.values())
    assert result.peak_mb < PEAK_MB_BOUND, format_long_take(result)
