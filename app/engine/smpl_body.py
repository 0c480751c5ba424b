"""SMPL bodies for users who have the model files (licensed separately, never shipped): the take drives the body
through joint rotations fitted to SMPL's joint layout, and the posed meshes are written as an OBJ sequence.

The model is read from an .npz (SMPL-X ships them; an SMPL .pkl converts with numpy) without pickle, and handed to
smplx as its data. The fit is `onto_rig.retarget_onto` with SMPL's rest joints as the rig (SMPL's joint names map
themselves), so the body's bones point where the take's do and its pelvis follows the take's, scaled by leg length.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from app.engine.io.onto_rig import retarget_onto
from app.engine.io.rig import Rig, RigAnimation
from app.engine.rotations import matrix_to_quat
from app.engine.skeleton import BANDAI_NAMCO_21, Skeleton

SMPL_JOINTS = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle", "right_ankle",
    "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)
SMPL_VERTICES = 6890
FIELDS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")


class SMPLModelError(ValueError):
    """The model file is missing, unreadable or not in SMPL's layout; the message says which."""


class _Data:
    def __init__(self, **fields: np.ndarray) -> None:
        self.__dict__.update(fields)


def load_smpl(path: str | os.PathLike):
    """An smplx SMPL model from an .npz in SMPL's layout (v_template, shapedirs, posedirs, J_regressor, weights,
    kintree_table, f), read without pickle."""
    import smplx

    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise SMPLModelError(f"{path.name}: Kinema reads SMPL models as .npz (SMPL-X ships them; convert a .pkl with "
                             "numpy.savez), so that no pickle is ever loaded")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [f for f in FIELDS if f not in npz.files]
            if missing:
                raise SMPLModelError(f"{path.name} is not an SMPL model: it lacks {', '.join(missing)}")
            data = {f: np.asarray(npz[f]) for f in FIELDS}
    except (OSError, ValueError) as exc:
        if isinstance(exc, SMPLModelError):
            raise
        raise SMPLModelError(f"{path.name}: cannot read the model ({exc})") from None
    if data["J_regressor"].shape[0] != len(SMPL_JOINTS) or data["kintree_table"].shape != (2, len(SMPL_JOINTS)):
        raise SMPLModelError(f"{path.name}: expected SMPL's {len(SMPL_JOINTS)} joints, the model has "
                             f"{data['J_regressor'].shape[0]}")
    extra = {}
    if len(data["v_template"]) != SMPL_VERTICES:  # smplx's extra keypoints (nose, toes, fingertips) are SMPL vertices
        extra = {"vertex_ids": dict.fromkeys(("nose", "reye", "leye", "rear", "lear"), 0), "use_hands": False,
                 "use_feet_keypoints": False}
    return smplx.SMPL(model_path=str(path), data_struct=_Data(**data), num_betas=data["shapedirs"].shape[-1], **extra)


def smpl_rig(model) -> Rig:
    """SMPL's skeleton in its rest pose (T-pose, rest rotations identity), from the model's joint regressor."""
    with torch.no_grad():
        joints = (model.J_regressor @ model.v_template).double().numpy()  # (24, 3)
    parents = tuple(int(p) for p in model.parents)
    parents = (-1,) + parents[1:]
    offsets = np.array([joints[j] - joints[p] if p >= 0 else joints[j] for j, p in enumerate(parents)])
    return Rig(SMPL_JOINTS, parents, offsets, np.repeat(np.eye(3)[None], len(SMPL_JOINTS), axis=0))


def _axis_angle(rotations: np.ndarray) -> torch.Tensor:
    """(..., 3, 3) -> (..., 3) axis-angle vectors, as smplx takes them."""
    q = matrix_to_quat(torch.from_numpy(rotations))
    q = torch.where(q[..., :1] < 0, -q, q)
    angle = 2 * torch.atan2(q[..., 1:].norm(dim=-1, keepdim=True), q[..., :1])
    axis = q[..., 1:] / q[..., 1:].norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return (axis * angle).float()


def smpl_animation(model, positions: np.ndarray, fps: float, skeleton: Skeleton = BANDAI_NAMCO_21) -> RigAnimation:
    """The take's joint positions (T, J, 3), metres, as SMPL joint rotations and a pelvis path."""
    return retarget_onto(positions, fps, smpl_rig(model), skeleton)


def smpl_vertices(model, anim: RigAnimation) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (T, V, 3), joints (T, 24, 3)) of the body posed by an SMPL animation (mean shape)."""
    with torch.no_grad():
        rest = (model.J_regressor @ model.v_template)[0].double().numpy()
        pose = _axis_angle(anim.local_rotations)  # (T, 24, 3)
        out = model(global_orient=pose[:, 0], body_pose=pose[:, 1:].reshape(len(pose), -1),
                    transl=torch.from_numpy(anim.root_positions - rest).float(),
                    betas=torch.zeros(len(pose), model.num_betas))
    return out.vertices.double().numpy(), out.joints[:, :len(SMPL_JOINTS)].double().numpy()


def write_obj_sequence(vertices: np.ndarray, faces: np.ndarray, folder: str | os.PathLike, stem: str = "frame") -> int:
    """One OBJ per frame (`stem_0000.obj`…), each written whole before it gets its name; returns the count."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    face_lines = "".join(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in faces)
    for t, frame in enumerate(vertices):
        text = "".join(f"v {x:.6f} {y:.6f} {z:.6f}\n" for x, y, z in frame) + face_lines
        tmp = folder / f".{stem}_{t:04d}.obj.tmp"
        tmp.write_text(text)
        os.replace(tmp, folder / f"{stem}_{t:04d}.obj")
    return len(vertices)
