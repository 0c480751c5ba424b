"""Takes and documents on disk: imports carry the features the edit operations need, exports honour range and
frame rate, and a project gives back the document it saved (segments may plan past the take)."""
from __future__ import annotations

import numpy as np
import pytest

from app.engine.document import (
    AddSegment, Document, Segment, SetScope, SetSelection, SetTake, ToggleLock, motion_from_take,
)
from app.engine.document.files import apply_project, export_take, load_document, read_take, save_document
from app.engine.io.bvh import read_bvh
from app.engine.io.project import ProjectError

WALK = "dataset-2_walk_normal_001.bvh"


def test_an_imported_take_has_features_that_give_its_positions_back(bandai_namco_sample) -> None:
    take = read_take(bandai_namco_sample / WALK)
    assert take.features.shape == (take.n_frames, 251) and take.fps == 20.0
    recovered = motion_from_take(take).positions
    assert np.abs(recovered - take.positions).max() < 1e-5  # metres, every frame (the last one by an extrapolated step)


def test_another_rig_is_retargeted_on_import(shared_data) -> None:
    take = read_take(shared_data / "cmu-sample" / "02_01.bvh")
    assert take.skeleton.name == "bandai-namco21" and take.features.shape == (take.n_frames, 251)
    assert 1.1 < take.positions[0, :, 1].max() < 2.0  # the head of a standing person, in metres


def test_export_writes_the_chosen_frames_at_the_chosen_rate(bandai_namco_sample, tmp_path) -> None:
    take = read_take(bandai_namco_sample / WALK)
    export_take(take, tmp_path / "part.bvh", frame_range=(10, 70), fps=30.0)
    bvh = read_bvh(tmp_path / "part.bvh")
    assert abs(bvh.fps - 30.0) < 1e-6 and bvh.n_frames == 89  # 60 frames at 20 fps span 2.95 s: 89 frames at 30
    with pytest.raises(ValueError, match="frame 500 is outside the take"):
        export_take(take, tmp_path / "bad.bvh", frame_range=(500, 510))
    assert not (tmp_path / "bad.bvh").exists()


def test_an_export_puts_the_take_back_where_the_imported_file_had_it(bandai_namco_sample, tmp_path) -> None:
    source = read_bvh(bandai_namco_sample / WALK)
    take = read_take(bandai_namco_sample / WALK)
    assert np.abs(take.positions[0, 0, [0, 2]]).max() < 1e-6  # the studio works on it at the origin
    export_take(take, tmp_path / "back.bvh", fps=30.0)
    back = read_bvh(tmp_path / "back.bvh")
    hips_in = source.world_positions()[:, source.names.index("Hips")]  # cm
    hips_out = back.world_positions()[:, back.names.index("Hips")]
    n = min(len(hips_in), len(hips_out))
    assert np.abs(hips_out[:n, [0, 2]] - hips_in[:n, [0, 2]]).max() < 0.5  # cm: same path on the ground, same way
    assert np.linalg.norm(hips_in[0, [0, 2]]) > 500  # which is 5 m from the origin


def test_a_project_gives_back_the_document(bandai_namco_sample, tmp_path) -> None:
    doc = Document()
    doc.execute(SetTake(read_take(bandai_namco_sample / WALK)))
    n = doc.n_frames
    for command in (ToggleLock(0), ToggleLock(n - 1), AddSegment(Segment("walks", 0, 100)),
                    AddSegment(Segment("sits down", 100, n)), SetSelection((20, 40)), SetScope("upper")):
        doc.execute(command)
    save_document(tmp_path / "p.kinema", doc, {"seed": 3, "prompt": "walks"})
    opened = load_document(tmp_path / "p.kinema")
    again = Document()
    apply_project(again, opened)
    np.testing.assert_array_equal(again.take.positions, doc.take.positions)
    np.testing.assert_array_equal(again.take.features, doc.take.features)
    assert again.take.placement == doc.take.placement and not doc.take.placement.is_identity
    assert (again.segments, again.locked_frames, again.selection, again.scope) == (
        doc.segments, doc.locked_frames, (20, 40), "upper")
    assert opened.settings == {"seed": 3, "prompt": "walks"} and not again.can_undo


def test_a_damaged_project_raises_before_anything_changes(tmp_path) -> None:
    bad = tmp_path / "bad.kinema"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ProjectError, match="bad.kinema is damaged"):
        load_document(bad)


def test_an_imported_take_remembers_its_files_frame_rate_through_a_project(bandai_namco_sample, tmp_path):
    """Exports offer the source file's rate (the Bandai Namco takes are 30 fps): it survives save and open."""
    doc = Document()
    doc.execute(SetTake(read_take(bandai_namco_sample / WALK)))
    assert doc.take.placement.fps == 30.0
    save_document(tmp_path / "p.kinema", doc)
    opened = Document()
    apply_project(opened, load_document(tmp_path / "p.kinema"))
    assert opened.take.placement == doc.take.placement
