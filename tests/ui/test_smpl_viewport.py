"""The SMPL body in the studio: a preference points at the user's model (a synthetic one here, in SMPL's format),
the viewport then draws it following the take, exports carry it, and without a model (or with a broken one) the
mannequin stands in and the window says why."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox
from synthetic_smpl import write_synthetic_smpl

from app.ui._qt.export_dialog import ExportOptions
from app.ui.main_window import SMPL_KEY, MainWindow

pytest.importorskip("smplx")


@pytest.fixture(autouse=True)
def no_smpl_preference():
    """No model set before or after each test: Qt keeps its settings file in memory for the whole process, so a
    preference one test sets would otherwise reach the next one's window."""
    QSettings("Kinema", "Kinema").setValue(SMPL_KEY, "")
    yield
    QSettings("Kinema", "Kinema").setValue(SMPL_KEY, "")


def test_without_model_files_the_mannequin_stands_in_and_the_viewport_says_why(window: MainWindow) -> None:
    viewport = window.viewport
    viewport.display.setCurrentText("Body")
    assert viewport.body_label.isVisible() and viewport.body_label.text() == "Mannequin (no SMPL model set)"
    assert "no SMPL model files set (Edit → Preferences → SMPL folder)" in viewport.body_label.toolTip()
    assert not viewport.body.is_smpl and len(viewport.body.vertices) > 1000  # the mannequin's capsules
    viewport.display.setCurrentText("Skeleton")
    assert not viewport.body_label.isVisible()


def test_the_preference_puts_the_smpl_body_in_the_viewport_following_the_frame(window: MainWindow, tmp_path) -> None:
    from app.engine.smpl_body import load_smpl, smpl_animation, smpl_vertices

    write_synthetic_smpl(tmp_path / "SMPL_NEUTRAL.npz")
    window.ask_preferences = lambda current: str(tmp_path)  # the user picks the folder
    window.preferences()
    viewport = window.viewport
    assert QSettings("Kinema", "Kinema").value(SMPL_KEY) == str(tmp_path)  # remembered across restarts
    assert viewport.display.currentText() == "Body" and viewport.body.mesh.visible  # shown at once
    assert viewport.body.is_smpl and viewport.body_label.text() == "SMPL body"
    assert len(viewport.body.mesh.mesh_data.get_vertices()) == 96  # the model's vertices, not the mannequin's

    model = load_smpl(tmp_path)
    take = window.document.take
    expected, _ = smpl_vertices(model, smpl_animation(model, take.positions.astype(np.float64), take.fps))
    for frame in (5, 40):
        window.document.current_frame = frame
        np.testing.assert_allclose(viewport.body.vertices, expected[frame], atol=1e-5)
    assert np.abs(expected[40] - expected[5]).max() > 0.05  # the walk moves it
    image = viewport.render_image()
    assert image[..., :3].std() > 5

    assert window.set_smpl_location("")  # cleared: back to the mannequin
    assert not viewport.body.is_smpl and viewport.body_label.text() == "Mannequin (no SMPL model set)"


def test_a_broken_model_file_is_one_message_and_changes_nothing(window: MainWindow, tmp_path) -> None:
    (tmp_path / "SMPL_NEUTRAL.npz").write_text("not a model")
    assert not window.set_smpl_location(str(tmp_path))
    box = window.findChild(QMessageBox, "errorBox")
    assert box is not None and "SMPL_NEUTRAL.npz: cannot read the model" in box.text()
    assert QSettings("Kinema", "Kinema").value(SMPL_KEY, "") == ""
    window.viewport.set_smpl(str(tmp_path))  # as a stale preference or $KINEMA_SMPL would at start
    window.viewport.display.setCurrentText("Body")
    assert window.viewport.body_label.text() == "Mannequin (the SMPL model is not used)"
    assert "cannot read the model" in window.viewport.body_label.toolTip()
    assert window.viewport.body.mesh.visible and not window.viewport.body.is_smpl
    window.smpl_location = str(tmp_path)
    assert not window.export_take(ExportOptions(tmp_path / "walk.glb", 0, 30, 20.0, body=True))  # not the mannequin
    assert "the SMPL model is not used" in box.text() or "the SMPL model is not used" in window.statusBar().currentMessage()
    assert not (tmp_path / "walk.glb").exists()


def test_the_preferences_dialog_says_what_the_folder_holds(qtbot, tmp_path) -> None:
    from app.ui._qt.preferences_dialog import PreferencesDialog

    dialog = PreferencesDialog("")
    qtbot.addWidget(dialog)
    assert dialog.found.text() == "No SMPL model: the mannequin is used"
    dialog.smpl.setText(str(tmp_path))
    assert dialog.found.text().startswith(f"no SMPL model in {tmp_path}")
    write_synthetic_smpl(tmp_path / "SMPL_MALE.npz")
    dialog.smpl.setText(f" {tmp_path} ")
    assert dialog.found.text() == f"Model: {tmp_path / 'SMPL_MALE.npz'}" and dialog.smpl_location() == str(tmp_path)


def test_the_export_carries_the_smpl_body_on_smpls_rig(window: MainWindow, tmp_path) -> None:
    import pygltflib as gl

    write_synthetic_smpl(tmp_path / "SMPL_NEUTRAL.npz")
    assert window.set_smpl_location(str(tmp_path / "SMPL_NEUTRAL.npz"))
    assert window.export_take(ExportOptions(tmp_path / "walk.glb", 0, 30, 20.0, body=True))
    gltf = gl.GLTF2().load(str(tmp_path / "walk.glb"))
    assert len(gltf.skins[0].joints) == 24 and gltf.nodes[0].name == "pelvis"
    assert gltf.accessors[gltf.meshes[0].primitives[0].attributes.POSITION].count == 96


def test_a_new_studio_finds_the_model_in_the_settings_or_the_environment(qtbot, tmp_path, monkeypatch) -> None:
    from app.engine.smpl_body import MODEL_ENV
    from app.ui.app import create_window

    write_synthetic_smpl(tmp_path / "SMPL_NEUTRAL.npz")
    for settings, env in (("", str(tmp_path)), (str(tmp_path / "SMPL_NEUTRAL.npz"), "")):
        QSettings("Kinema", "Kinema").setValue(SMPL_KEY, settings)  # what an earlier session left
        monkeypatch.setenv(MODEL_ENV, env)
        window = create_window()
        window.projects.ask_unsaved = lambda: "discard"
        qtbot.addWidget(window)
        assert window.smpl_location == (settings or env)
        window.viewport.display.setCurrentText("Body")
        assert window.viewport.body.is_smpl and len(window.viewport.body.vertices) == 96


def test_the_studio_writes_the_smpl_body_frame_by_frame(window: MainWindow, qtbot, tmp_path) -> None:
    import trimesh

    from app.engine.smpl_body import load_smpl, smpl_animation, smpl_vertices

    assert not window.export_smpl_frames(tmp_path / "frames" / "walk.ply")  # no model set: one message
    assert "no SMPL model files set" in window.findChild(QMessageBox, "errorBox").text()
    write_synthetic_smpl(tmp_path / "SMPL_NEUTRAL.npz")
    assert window.set_smpl_location(str(tmp_path))
    assert window.export_smpl_frames(tmp_path / "frames" / "walk.ply")
    qtbot.waitUntil(lambda: window.worker is None, timeout=60000)
    take = window.document.take
    files = sorted((tmp_path / "frames").glob("walk_*.ply"))
    assert len(files) == take.n_frames and "Wrote" in window.statusBar().currentMessage()
    model = load_smpl(tmp_path)
    expected, _ = smpl_vertices(model, smpl_animation(model, take.placement.to_world(take.positions), take.fps))
    for frame in (0, take.n_frames - 1):
        mesh = trimesh.load(files[frame], process=False)
        np.testing.assert_allclose(mesh.vertices, expected[frame], atol=1e-5)
