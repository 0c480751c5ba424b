"""SMPL bodies for users who have the model files (licensed separately, never shipped): the take drives the body
through joint rotations fitted to SMPL's joint layout; the posed body is drawn in the studio and written as a
skinned glTF/FBX mesh or an OBJ/PLY sequence.

Kinema is pointed at a model file or a folder holding one (`--model`, $KINEMA_SMPL, the studio's Preferences).
The model (SMPL, SMPL+H or SMPL-X: the same fields for 24, 52 or 55 joints) is read from an .npz (SMPL-X ships
them; an SMPL .pkl converts with numpy) without pickle, checked field by field, and handed to smplx as its data. The fit is `onto_rig.retarget_onto` with SMPL's rest joints as the rig
(SMPL's joint names map themselves), so the body's bones point where the take's do and its pelvis follows the
take's, scaled by leg length. smplx also applies SMPL's pose correctives; a skinned file (glTF, FBX) carries only
linear blend skinning, which is all those formats hold (exact for a model without correctives).
"""
from __future__ import annotations

import contextlib
import io
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from app.engine.io.atomic import write_atomic
from app.engine.io.formats import FORMATS, write_animation
from app.engine.io.onto_rig import retarget_onto
from app.engine.io.rig import Rig, RigAnimation, SkinnedMesh
from app.engine.rotations import matrix_to_quat
from app.engine.skeleton import BANDAI_NAMCO_21, Skeleton

SMPL_JOINTS = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle", "right_ankle",
    "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
BODY = 22  # the joints SMPL, SMPL+H and SMPL-X share (pelvis … right_wrist), in the same tree
_FINGERS = tuple(f"{side}_{finger}{k}" for side in ("left", "right")
                 for finger in ("index", "middle", "pinky", "ring", "thumb") for k in (1, 2, 3))
# joint count -> (the family's name, its joints as smplx names them); the body's joints map themselves onto the take
FAMILIES = {
    24: ("SMPL", SMPL_JOINTS),
    52: ("SMPL+H", SMPL_JOINTS[:BODY] + _FINGERS),
    55: ("SMPL-X", SMPL_JOINTS[:BODY] + ("jaw", "left_eye_smplhf", "right_eye_smplhf") + _FINGERS),
}
SMPL_VERTICES = 6890
FIELDS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
MODEL_ENV = "KINEMA_SMPL"  # a model file or a folder holding one, for the CLI and the studio
# looked for in that order in a folder and in its smplx-style subfolders
MODEL_NAMES = ("SMPL_NEUTRAL.npz", "SMPL_MALE.npz", "SMPL_FEMALE.npz", "SMPLX_NEUTRAL.npz", "SMPLX_MALE.npz",
               "SMPLX_FEMALE.npz")
SUBFOLDERS = ("", "smpl", "smplx")
SEQUENCES = ("obj", "ply")  # per-frame mesh files
CHUNK = 64  # frames posed together: a 6890-vertex body then needs ~30 MB for smplx's skinning matrices


class SMPLModelError(ValueError):
    """The model file is missing, unreadable or not in SMPL's layout; the message says which."""


class _Data:
    def __init__(self, **fields: np.ndarray) -> None:
        self.__dict__.update(fields)


def find_model(location: str | os.PathLike) -> Path:
    """The model file at `location`: the file itself, or the first of `MODEL_NAMES` in a folder or its `smpl/` or
    `smplx/` subfolder (as smplx lays models out): SMPL's neutral model first, SMPL-X's female last."""
    location = Path(location).expanduser()
    if location.is_file():
        return location
    if not location.is_dir():
        raise SMPLModelError(f"the SMPL model location {location} does not exist")
    for name in MODEL_NAMES:
        for folder in SUBFOLDERS:
            if (location / folder / name).is_file():
                return location / folder / name
    pickles = sorted(p.name for p in location.glob("*.pkl"))
    hint = f" (found {', '.join(pickles)}: convert to .npz with numpy.savez)" if pickles else ""
    raise SMPLModelError(f"no SMPL model in {location}: expected {', '.join(MODEL_NAMES)}{hint}")


def _check(name: str, data: dict[str, np.ndarray]) -> None:
    """A clear error for arrays that are not the shapes of SMPL, SMPL+H or SMPL-X, before smplx meets them."""
    v = data["v_template"].shape[0] if data["v_template"].ndim == 2 else -1
    j = data["J_regressor"].shape[0] if data["J_regressor"].ndim == 2 else len(SMPL_JOINTS)
    shapes = {"v_template": (v, 3), "posedirs": (v, 3, 9 * (j - 1)), "J_regressor": (j, v), "weights": (v, j),
              "kintree_table": (2, j)}
    if v < 1 or data["v_template"].shape[1] != 3:
        raise SMPLModelError(f"{name} is not an SMPL model: its template vertices have shape {data['v_template'].shape}")
    if j not in FAMILIES:
        raise SMPLModelError(f"{name}: expected the joints of SMPL (24), SMPL+H (52) or SMPL-X (55), the model "
                             f"has {j}")
    for field, shape in shapes.items():
        if data[field].shape != shape:
            raise SMPLModelError(f"{name} is not an SMPL model: {field} has shape {data[field].shape}, "
                                 f"expected {shape} for {v} vertices")
    if data["shapedirs"].ndim != 3 or data["shapedirs"].shape[:2] != (v, 3):
        raise SMPLModelError(f"{name} is not an SMPL model: shapedirs has shape {data['shapedirs'].shape}")
    parents = [-1] + [int(p) for p in data["kintree_table"][0, 1:]]
    if tuple(parents[:BODY]) != SMPL_PARENTS[:BODY] or any(not 0 <= p < k for k, p in enumerate(parents) if k):
        raise SMPLModelError(f"{name} is not an SMPL model: its joint tree (kintree_table) is not "
                             f"{FAMILIES[j][0]}'s")
    faces = data["f"]
    if faces.ndim != 2 or faces.shape[1] != 3 or not np.issubdtype(faces.dtype, np.integer) or (
            faces.size and (faces.min() < 0 or faces.max() >= v)):
        raise SMPLModelError(f"{name} is not an SMPL model: its triangles (f) are not vertex indices 0–{v - 1}")
    for field in FIELDS:
        if not np.issubdtype(data[field].dtype, np.number) or not np.isfinite(data[field]).all():
            raise SMPLModelError(f"{name}: {field} holds values that are not finite numbers")


def load_smpl(path: str | os.PathLike):
    """An smplx model from an .npz in SMPL's layout (v_template, shapedirs, posedirs, J_regressor, weights,
    kintree_table, f), read without pickle; `path` may be a folder (`find_model`). SMPL+H and SMPL-X files hold
    the same fields for more joints (and more, not read: hand and face spaces), so their bodies are posed the same
    way: smplx's SMPL class works for any joint tree, with the fingers, jaw and eyes at rest."""
    try:
        import smplx
    except ImportError:
        raise SMPLModelError("SMPL bodies need the smplx package: pip install smplx") from None

    path = Path(path) if Path(path).suffix.lower() == ".pkl" else find_model(path)
    if path.suffix.lower() != ".npz":
        raise SMPLModelError(f"{path.name}: Kinema reads SMPL models as .npz (SMPL-X ships them; convert a .pkl with "
                             "numpy.savez), so that no pickle is ever loaded")
    if path.is_file() and not zipfile.is_zipfile(path):
        raise SMPLModelError(f"{path.name}: cannot read the model (it is not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [f for f in FIELDS if f not in npz.files]
            if missing:
                raise SMPLModelError(f"{path.name} is not an SMPL model: it lacks {', '.join(missing)}")
            data = {f: np.asarray(npz[f]) for f in FIELDS}
    except SMPLModelError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        if "Object arrays" in str(exc):  # e.g. a .pkl's sparse J_regressor saved as it was
            raise SMPLModelError(f"{path.name} holds Python objects, which Kinema never unpickles: save plain arrays "
                                 "(a sparse J_regressor as J_regressor.toarray()) with numpy.savez") from None
        raise SMPLModelError(f"{path.name}: cannot read the model ({exc})") from None
    _check(path.name, data)
    extra = {}
    if len(data["v_template"]) != SMPL_VERTICES:  # smplx's extra keypoints (nose, toes, fingertips) are SMPL vertices
        extra = {"vertex_ids": dict.fromkeys(("nose", "reye", "leye", "rear", "lear"), 0), "use_hands": False,
                 "use_feet_keypoints": False}
    with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a warning for models with few shape components
        return smplx.SMPL(model_path=str(path), data_struct=_Data(**data), num_betas=data["shapedirs"].shape[-1],
                          **extra)


def model_family(model) -> str:
    """"SMPL", "SMPL+H" or "SMPL-X"."""
    return FAMILIES[len(model.J_regressor)][0]


def smpl_rig(model) -> Rig:
    """The model's skeleton in its rest pose (T-pose, rest rotations identity), from its joint regressor."""
    with torch.no_grad():
        joints = (model.J_regressor @ model.v_template).double().numpy()  # (J, 3)
    names = FAMILIES[len(joints)][1]
    parents = tuple(int(p) for p in model.parents)
    parents = (-1,) + parents[1:]
    offsets = np.array([joints[j] - joints[p] if p >= 0 else joints[j] for j, p in enumerate(parents)])
    return Rig(names, parents, offsets, np.repeat(np.eye(3)[None], len(names), axis=0))


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
    """(vertices (T, V, 3), joints (T, J, 3)), float32, of the body posed by an SMPL animation (mean shape); posed
    `CHUNK` frames at a time, as smplx's skinning holds a 4 x 4 matrix per vertex and frame."""
    vertices, joints = [], []
    with torch.no_grad():
        rest = (model.J_regressor @ model.v_template)[0].double().numpy()
        for start in range(0, anim.n_frames, CHUNK):
            part = anim.frames((start, min(start + CHUNK, anim.n_frames)))
            pose = _axis_angle(part.local_rotations)  # (T, J, 3)
            out = model(global_orient=pose[:, 0], body_pose=pose[:, 1:].reshape(len(pose), -1),
                        transl=torch.from_numpy(part.root_positions - rest).float(),
                        betas=torch.zeros(len(pose), model.num_betas))
            vertices.append(out.vertices.numpy())
            joints.append(out.joints[:, :anim.rig.n_joints].numpy())
    return np.concatenate(vertices), np.concatenate(joints)


def smpl_mesh(model) -> SkinnedMesh:
    """The mean-shape body in the model's rest pose, skinned to `smpl_rig(model)` by its four heaviest weights."""
    vertices = model.v_template.double().numpy()
    weights = model.lbs_weights.double().numpy()  # (V, J)
    joints = np.argsort(-weights, axis=1, kind="stable")[:, :4]
    top = np.take_along_axis(weights, joints, 1)
    return SkinnedMesh(vertices, np.asarray(model.faces, dtype=np.int64), joints,
                       top / np.maximum(top.sum(1, keepdims=True), 1e-12))


def _obj_lines(key: str, values: np.ndarray) -> bytes:
    """OBJ lines `key a b c` for rows (N, 3) of vertices (6 decimals) or 1-based triangles, in one format call."""
    row = f"{key} %.6f %.6f %.6f\n" if key == "v" else f"{key} %d %d %d\n"
    return ((row * len(values)) % tuple(values.ravel().tolist())).encode()


def _ply(vertices: np.ndarray, faces: np.ndarray) -> bytes:
    """Binary little-endian PLY: float vertices, triangles as a count and three int indices."""
    header = (f"ply\nformat binary_little_endian 1.0\ncomment Kinema SMPL body\nelement vertex {len(vertices)}\n"
              "property float x\nproperty float y\nproperty float z\n"
              f"element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n")
    tris = np.zeros(len(faces), dtype=[("n", "u1"), ("v", "<i4", 3)])
    tris["n"], tris["v"] = 3, faces
    return header.encode() + np.asarray(vertices, "<f4").tobytes() + tris.tobytes()


def write_mesh_sequence(vertices: np.ndarray, faces: np.ndarray, folder: str | os.PathLike, stem: str = "frame",
                        kind: str = "obj", first: int = 0) -> int:
    """One OBJ or PLY per frame (`stem_0000.obj`…, numbered from `first`), each written whole before it gets its
    name; returns the count."""
    if kind not in SEQUENCES:
        raise ValueError(f"a mesh sequence is {' or '.join(SEQUENCES)}, not {kind!r}")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder} is a file; a mesh sequence needs a folder")
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "obj":
        face_lines = _obj_lines("f", np.asarray(faces, np.int64) + 1)  # the same for every frame
    for t, frame in enumerate(vertices, start=first):
        data = _obj_lines("v", frame) + face_lines if kind == "obj" else _ply(frame, faces)
        write_atomic(folder / f"{stem}_{t:04d}.{kind}", data)
    return len(vertices)


def write_smpl_body(model, anim: RigAnimation, path: str | os.PathLike, stem: str = "frame",
                    sequence: str = "obj", units: str = "cm",
                    progress: Callable[[int, int], None] | None = None) -> int:
    """The posed body at `path`: a skinned mesh on the model's rig for .glb/.gltf/.fbx (FBX in `units`), otherwise (a
    folder) one `sequence` file per frame, `progress(frames written, frames)` called after each chunk (it may raise
    to stop; the files written so far are whole). Returns the number of files written."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is not None and fmt.carries_body:
        write_animation(anim, path, units, mesh=smpl_mesh(model))
        return 1
    if path.suffix and not path.is_dir():
        raise ValueError(f"{path.name}: an SMPL body goes to .glb, .gltf or .fbx (skinned), or to a folder "
                         f"({' or '.join(SEQUENCES)} per frame)")
    for start in range(0, anim.n_frames, CHUNK):  # a chunk at a time: a long take's meshes need not fit in memory
        vertices, _ = smpl_vertices(model, anim.frames((start, min(start + CHUNK, anim.n_frames))))
        write_mesh_sequence(vertices, model.faces, path, stem, sequence, start)
        if progress is not None:
            progress(start + len(vertices), anim.n_frames)
    return anim.n_frames
