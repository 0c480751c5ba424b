"""Through the window: a file with unknown joint names asks for a mapping (remembered for that rig), and
File → Export onto rig… writes the take on Mesh2Motion's UE rig."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.io.bvh import read_bvh
from app.engine.skeleton import BANDAI_NAMCO_21
from app.ui._qt.rig_mapping_dialog import RigMappingDialog
from app.ui.main_window import MainWindow

SHARED = Path(__file__).resolve().parents[2].parent / "shared/data"
WALK = SHARED / "bandai-namco/sample/dataset-2_walk_normal_001.bvh"
UE_RIG = SHARED / "extra/mesh2motion/human-addon-animations.glb"


@pytest.fixture(autouse=True)
def config_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def odd_rig(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The Bandai walk with every joint renamed to a name no convention knows."""
    odd = {name: f"b{j}" for j, name in enumerate(BANDAI_NAMCO_21.joint_names)}
    text = WALK.read_text()
    for name, new in sorted(odd.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(f" {name}\n", f" {new}\n").replace(f" {name}\r\n", f" {new}\r\n")
    path = tmp_path / "odd.bvh"
    path.write_text(text)
    return path, odd


def wait_for_job(qtbot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.worker is None, timeout=60000)


def test_unknown_joint_names_ask_for_a_mapping_once(qtbot, window: MainWindow, tmp_path: Path) -> None:
    path, odd = odd_rig(tmp_path)
    asked = []
    window.rig_actions.ask_mapping = lambda name, joints, skeleton: asked.append(joints) or odd
    window.import_take(path)
    wait_for_job(qtbot, window)
    qtbot.waitUntil(lambda: window.document.take is not None and window.document.take.source is not None
                    and window.document.take.source.name == "odd.bvh", timeout=60000)
    assert len(asked) == 1 and "b0" in asked[0]
    assert window.document.undo_label == "Import odd.bvh"
    window.import_take(path)  # the second time the saved mapping is used: no question
    wait_for_job(qtbot, window)
    assert len(asked) == 1


def test_a_cancelled_mapping_leaves_the_take(qtbot, window: MainWindow, tmp_path: Path) -> None:
    path, _ = odd_rig(tmp_path)
    before = window.document.take
    window.rig_actions.ask_mapping = lambda name, joints, skeleton: None
    window.import_take(path)
    wait_for_job(qtbot, window)
    assert window.document.take is before
    assert "not mapped" in window.statusBar().currentMessage()


def test_the_dialog_refuses_an_incomplete_mapping(qtbot, window: MainWindow) -> None:
    joints = tuple(f"b{j}" for j in range(21))
    dialog = RigMappingDialog("odd.bvh", joints, BANDAI_NAMCO_21, {"Hips": "b0"}, {"Toes_L", "Toes_R"}, window)
    qtbot.addWidget(dialog)
    dialog.accept()
    assert dialog.result() == 0 and "choose a joint for Spine" in dialog.problem.text()
    for j, name in enumerate(BANDAI_NAMCO_21.joint_names):
        dialog.boxes[name].setCurrentText(f"b{j}")
    dialog.boxes["Toes_L"].setCurrentText("(none)")
    dialog.accept()
    assert dialog.result() == 1 and "Toes_L" not in dialog.mapping() and dialog.mapping()["Head"] == "b4"


def test_export_onto_a_ue_rig(qtbot, window: MainWindow, tmp_path: Path) -> None:
    out = tmp_path / "walk_ue.bvh"
    window.rig_actions.export_onto_rig(UE_RIG, out)
    wait_for_job(qtbot, window)
    assert out.exists() and read_bvh(out).names[:2] == ["root", "pelvis"]
    assert "onto human-addon-animations.glb's 66-joint rig" in window.statusBar().currentMessage()
