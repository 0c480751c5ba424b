"""The body as a lit, shaded vispy mesh that follows the take: the user's SMPL body where a model is set and
loads (`app.engine.smpl_body`), else the mannequin (`app.engine.mannequin`), with `status` saying which and why.

The joints' rotations are solved once per take (when the body is first shown: building it imports trimesh or
smplx, which the skeleton-only studio never pays for). A mannequin frame then costs one rigid transform of a few
thousand vertices and normals; an SMPL frame one smplx posing (a few ms) and its normals. Then their lighting (a
key light and a fill, Lambert, computed here: vispy's shading filter rebuilds its shader whenever the mesh
changes, which a software renderer cannot afford 60 times a second) and one upload, as the skeleton's does.
"""
from __future__ import annotations

import numpy as np
import torch
from vispy import scene

from app.engine.io.rig import vertex_normals
from app.engine.skeleton import Skeleton

SKIN = np.array([0.78, 0.74, 0.7], np.float32)
KEY = np.array([0.45, 0.8, 0.4], np.float32) / np.linalg.norm([0.45, 0.8, 0.4])  # from above, front left
FILL = np.array([-0.6, 0.2, -0.5], np.float32) / np.linalg.norm([-0.6, 0.2, -0.5])
AMBIENT, KEY_STRENGTH, FILL_STRENGTH = 0.3, 0.65, 0.25
DISPLAYS = ("Skeleton", "Body", "Both")
NO_SMPL = "no SMPL model files set (Edit → Preferences → SMPL folder)"
# SMPL frames are posed (and lit) in blocks and kept: smplx takes ~7 ms for one frame of a 6890-vertex body but
# ~28 ms for 16 (one core). Blocks of 8 cost ~30 ms each (a short stall, once), ~3 ms a frame the first time
# round and only the upload after; 128 blocks keep 1024 frames.
SMPL_BLOCK, SMPL_BLOCKS_KEPT = 8, 128


class BodyVisual:
    """One mesh node under `parent`. `set_take` once per take, `show_frame` per frame, `set_enabled` to show it,
    `set_smpl` to choose the user's SMPL model."""

    def __init__(self, parent: scene.Node) -> None:
        self.mesh = scene.visuals.Mesh(parent=parent)
        self.mesh.set_gl_state("opaque", depth_test=True, cull_face=True)  # no blending, back faces skipped
        self.mesh.visible = False
        self.enabled = False
        self._take: tuple[np.ndarray, Skeleton] | None = None  # set, not yet prepared
        self._skeleton: Skeleton | None = None  # the mannequin's, built for it
        self._smpl_location: str | None = None
        self._smpl = None  # the loaded smplx model, once the body is first shown
        self._smpl_error: str | None = None  # why the model did not load (then the mannequin stands in)
        self._fit_error: str | None = None  # why it could not be fitted to this take (the same)
        self._smpl_anim = None  # the take as SMPL joint rotations (a RigAnimation)
        # block -> (vertices (SMPL_BLOCK, V, 3), lit colours (SMPL_BLOCK, V, 4)), the oldest first
        self._smpl_blocks: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._ready = False  # the body is built and posed for the take
        self._rotations: np.ndarray | None = None  # (T, J, 3, 3) world rotations of the take (mannequin)
        self._positions: np.ndarray | None = None
        self._owner = np.zeros(0, np.intp)
        self._relative = self._normals = np.zeros((0, 3), np.float32)
        self._faces = np.zeros((0, 3), np.uint32)
        self.vertices: np.ndarray | None = None  # (V, 3) of the frame on screen; tests read it
        self.colours: np.ndarray | None = None  # (V, 4) their lit colours

    def set_take(self, positions: np.ndarray, skeleton: Skeleton) -> None:
        self._take = (np.asarray(positions, np.float32), skeleton)
        self._ready = False
        if self.enabled:
            self._prepare()

    def set_smpl(self, location: str | None, model=None) -> None:
        """The user's SMPL model (a file or a folder; None: none set), already loaded as `model` where the caller
        has it; the body is rebuilt with it when shown."""
        self._smpl_location, self._smpl, self._smpl_error, self._fit_error = location or None, model, None, None
        self._ready = False
        if self.enabled and self._take is not None:
            self._prepare()

    @property
    def is_smpl(self) -> bool:
        """The SMPL body is the one drawn (or will be, once shown)."""
        return self._smpl is not None and self._fit_error is None

    @property
    def smpl_error(self) -> str | None:
        """Why the SMPL model is not used, in the user's words (None: it is, or none is set, or not tried yet)."""
        return self._smpl_error or self._fit_error

    @property
    def status(self) -> str:
        """In plain words, which body is drawn and why."""
        if self.is_smpl:
            from app.engine.smpl_body import model_family

            return f"{model_family(self._smpl)} body ({len(self._smpl.v_template)} vertices)"
        if self.smpl_error is not None:
            return f"Mannequin: the SMPL model is not used ({self.smpl_error})"
        if self._smpl_location is not None:
            return "SMPL body (loads when the body is shown)"
        return f"Mannequin: {NO_SMPL}"

    def smpl_model(self):
        """The user's SMPL model, loaded now if not yet (for an export), or None (none set, or it did not load)."""
        if self._smpl_location is not None and self._smpl is None and self._smpl_error is None:
            self._load_smpl()
        return self._smpl

    def _load_smpl(self) -> None:
        from app.engine.smpl_body import SMPLModelError, load_smpl

        try:
            self._smpl = load_smpl(self._smpl_location)
        except SMPLModelError as exc:
            self._smpl_error = str(exc)

    def _prepare(self) -> None:
        positions, skeleton = self._take
        if self.smpl_model() is not None:
            from app.engine.smpl_body import smpl_animation

            self._smpl_blocks, self._fit_error = {}, None
            try:
                self._smpl_anim = smpl_animation(self._smpl, positions.astype(np.float64), 20.0, skeleton)
            except ValueError as exc:  # a rig that SMPL's joints do not map onto: the mannequin stands in
                self._smpl_anim, self._fit_error = None, f"it does not fit this take: {exc}"
        if self.is_smpl:
            self._faces = np.asarray(self._smpl.faces, np.uint32)
            self._skeleton = None  # the mannequin is built again if the SMPL body goes
        else:
            self._prepare_mannequin(positions, skeleton)
        self._ready = True
        self._pose(0)
        self.mesh.set_data(vertices=self.vertices, faces=self._faces, vertex_colors=self.colours)
        self.mesh.visible = True

    def _prepare_mannequin(self, positions: np.ndarray, skeleton: Skeleton) -> None:
        if skeleton is not self._skeleton:
            from app.engine.mannequin import build_mannequin, rest_positions

            mesh = build_mannequin(skeleton)
            self._owner = mesh.joints[:, 0]
            self._relative = (mesh.vertices - rest_positions(skeleton)[self._owner]).astype(np.float32)
            self._normals = mesh.vertex_normals().astype(np.float32)
            self._faces = mesh.faces.astype(np.uint32)
            self._skeleton = skeleton
        _, local = skeleton.rotations_from_positions(torch.from_numpy(positions))
        world = [local[:, 0]]
        for j in range(1, skeleton.n_joints):
            world.append(world[skeleton.parents[j]] @ local[:, j])
        self._rotations = torch.stack(world, dim=1).numpy()
        self._positions = positions
        self._smpl_anim = None

    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        if on and not self._ready and self._take is not None:
            self._prepare()
        self.mesh.visible = on and self._ready

    def show_frame(self, frame: int) -> None:
        if not self._ready or not self.enabled:
            return
        self._pose(frame)
        if self.mesh._data_changed:  # not drawn since set_data: vispy builds its buffers from the mesh data
            self.mesh.mesh_data.set_vertices(self.vertices)
            self.mesh.mesh_data.set_vertex_colors(self.colours)
            self.mesh.mesh_data_changed()
            return
        # drawn before: refill the two vertex buffers in place. MeshVisual's own update path assigns new buffers
        # to its shader, which relinks the program every frame (tens of ms on a software renderer).
        corners = self._faces.reshape(-1)
        self.mesh._vertices.set_data(self.vertices[corners].astype(np.float32))
        self.mesh.shared_program.vert["base_color"].set_data(self.colours[corners].astype(np.float32))
        self.mesh.update()

    def _pose(self, frame: int) -> None:
        if self._smpl_anim is not None:
            self.vertices, self.colours = self._smpl_frame(frame)
            return
        rotations = self._rotations[frame][self._owner]  # (V, 3, 3)
        self.vertices = np.einsum("vij,vj->vi", rotations, self._relative) + self._positions[frame][self._owner]
        self.colours = _lit(np.einsum("vij,vj->vi", rotations, self._normals))

    def _smpl_frame(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """(vertices (V, 3), lit colours (V, 4)) of the SMPL body at `frame`, from its block of posed frames
        (posed and lit now if not kept)."""
        from app.engine.smpl_body import smpl_vertices

        block, start = frame // SMPL_BLOCK, frame // SMPL_BLOCK * SMPL_BLOCK
        if block not in self._smpl_blocks:
            if len(self._smpl_blocks) >= SMPL_BLOCKS_KEPT:
                del self._smpl_blocks[next(iter(self._smpl_blocks))]
            end = min(start + SMPL_BLOCK, self._smpl_anim.n_frames)
            vertices = smpl_vertices(self._smpl, self._smpl_anim.frames((start, end)))[0]  # (B, V, 3)
            colours = np.stack([_lit(vertex_normals(v, self._faces)) for v in vertices])  # (B, V, 4)
            self._smpl_blocks[block] = (vertices.astype(np.float32), colours.astype(np.float32))
        vertices, colours = self._smpl_blocks[block]
        return vertices[frame - start], colours[frame - start]

    def clear(self) -> None:
        self._take = self._rotations = self._positions = self._smpl_anim = self.vertices = self.colours = None
        self._ready = False
        self.mesh.visible = False


def _lit(normals: np.ndarray) -> np.ndarray:
    """(V, 4) colours of the skin under the key and fill lights (Lambert) for unit normals (V, 3)."""
    light = (AMBIENT + KEY_STRENGTH * np.clip(normals @ KEY, 0.0, None)
             + FILL_STRENGTH * np.clip(normals @ FILL, 0.0, None))
    return np.concatenate([np.clip(light[:, None] * SKIN, 0.0, 1.0), np.ones((len(light), 1))], axis=1)
