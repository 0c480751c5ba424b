"""Takes in from and out to other rigs, through the window: an import whose joint names Kinema does not know asks
for a mapping (and remembers it for that rig), and `File → Export onto rig…` writes the take on the animator's
own rig. Reading and retargeting run on the worker; dialogs on the UI thread; each step's failure is a message."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog, QFileDialog

from app.engine.document.files import read_take
from app.engine.io.formats import file_filter, write_animation, writer_for
from app.engine.io.onto_rig import joint_map, retarget_onto
from app.engine.io.retarget import RetargetError, optional_joints, suggest_mapping
from app.engine.io.rig_files import read_rig_animation
from app.engine.io.rig_mappings import load_mapping, save_mapping
from app.engine.skeleton import BANDAI_NAMCO_21, Skeleton
from app.ui._qt.rig_mapping_dialog import RigMappingDialog

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

RIG_FILTER = "Rigs (*.fbx *.glb *.gltf *.bvh);;FBX (*.fbx);;glTF (*.glb *.gltf);;BVH (*.bvh)"


@dataclass
class NeedsMapping:
    """The worker's answer when the file's joint names are unknown: the window asks for a mapping."""
    path: Path
    joints: tuple[str, ...]


class RigActions(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window

    # -- dialogs (tests replace these) -------------------------------------------------------------------

    def ask_mapping(self, rig_name: str, joints: tuple[str, ...], skeleton: Skeleton) -> dict[str, str] | None:
        dialog = RigMappingDialog(rig_name, joints, skeleton, suggest_mapping(joints, skeleton),
                                  optional_joints(skeleton), self.window)
        return dialog.mapping() if dialog.exec() == QDialog.DialogCode.Accepted else None

    def ask_rig_path(self) -> str:
        return QFileDialog.getOpenFileName(self.window, "Export onto which rig?", "", RIG_FILTER)[0]

    def ask_output_path(self, default: Path) -> str:
        return QFileDialog.getSaveFileName(self.window, "Export onto rig", str(default), file_filter())[0]

    # -- import ------------------------------------------------------------------------------------------

    def import_take(self, path: str | Path, mapping: dict[str, str] | None = None) -> None:
        """Read on the worker; unknown joint names open the mapping dialog, then the import runs again."""
        path = Path(path)

        def job(cancel, progress):
            try:
                return read_take(path, mapping)
            except RetargetError as exc:
                if not exc.file_joints or mapping is not None:
                    raise
                return NeedsMapping(path, exc.file_joints)

        self.window.run_job(f"Importing {path.name}", job, lambda result: self._imported(path, result))

    def _imported(self, path: Path, result) -> None:
        if isinstance(result, NeedsMapping):
            mapping = self.ask_mapping(path.name, result.joints, BANDAI_NAMCO_21)
            if mapping is None:
                self.window.show_message(f"Import of {path.name} cancelled: its joints were not mapped")
                return
            save_mapping(result.joints, mapping)
            self.import_take(path, mapping)
            return
        self.window.load_take(result, f"Import {path.name}")

    # -- export onto a rig ---------------------------------------------------------------------------------

    def export_onto_rig(self, rig_path: str | Path | None = None, out_path: str | Path | None = None,
                        mapping: dict[str, str] | None = None) -> None:
        take = self.window.document.take
        if take is None:
            self.window.show_message("There is no take to export yet")
            return
        rig_path = rig_path or self.ask_rig_path()
        if not rig_path:
            return
        rig_path = Path(rig_path)
        out_path = out_path or self.ask_output_path(rig_path.with_name(f"{rig_path.stem}_take{rig_path.suffix}"))
        if not out_path:
            return
        out_path = Path(out_path)
        try:
            writer_for(out_path)
        except ValueError as exc:
            self.window.show_error("Export failed", str(exc))
            return

        def job(cancel, progress):
            target, _ = read_rig_animation(rig_path)
            rig = target.rig
            chosen = mapping if mapping is not None else load_mapping(rig.names)
            try:
                joint_map(rig, take.skeleton, chosen)
            except RetargetError as exc:
                if not exc.file_joints or chosen is not None:
                    raise
                return NeedsMapping(rig_path, exc.file_joints)
            anim = retarget_onto(take.placement.to_world(take.positions), take.fps, rig, take.skeleton, chosen)
            write_animation(anim.resampled(target.fps), out_path)
            return rig

        def done(result) -> None:
            if isinstance(result, NeedsMapping):
                chosen = self.ask_mapping(rig_path.name, result.joints, take.skeleton)
                if chosen is None:
                    self.window.show_message("Export cancelled: the rig's joints were not mapped")
                    return
                save_mapping(result.joints, chosen)
                self.export_onto_rig(rig_path, out_path, chosen)
                return
            self.window.show_message(f"Exported the take onto {rig_path.name}'s {result.n_joints}-joint rig "
                                     f"to {out_path.name}")

        self.window.run_job(f"Exporting onto {rig_path.name}", job, done)
