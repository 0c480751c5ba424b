"""A small model file in SMPL's layout, written by the tests (the real files are licensed and never shipped):
4 vertices around each of SMPL's 24 joints, with SMPL's kinematic tree and a T-pose of about its proportions."""
from __future__ import annotations

import numpy as np

PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
OFFSETS = np.array([
    [0, 0.93, 0], [0.06, -0.09, 0], [-0.06, -0.09, 0], [0, 0.11, 0], [0, -0.38, 0], [0, -0.38, 0], [0, 0.14, 0],
    [0, -0.40, 0], [0, -0.40, 0], [0, 0.06, 0], [0, -0.05, 0.12], [0, -0.05, 0.12], [0, 0.21, 0], [0.07, 0.11, 0],
    [-0.07, 0.11, 0], [0, 0.09, 0.03], [0.12, 0.03, 0], [-0.12, 0.03, 0], [0.26, 0, 0], [-0.26, 0, 0], [0.25, 0, 0],
    [-0.25, 0, 0], [0.08, 0, 0], [-0.08, 0, 0]])
CORNERS = np.array([[0.02, 0, 0], [-0.02, 0, 0], [0, 0.02, 0.02], [0, -0.02, -0.02]])


def write_synthetic_smpl(path, blend: bool = False) -> np.ndarray:
    """An SMPL-format .npz whose joint regressor finds each joint as its 4 vertices' mean. The vertices are bound to
    their joint; with `blend`, the last two of each non-root joint's four are 60/40 between it and its parent (as
    SMPL's skin blends across a joint). No pose correctives, so linear blend skinning poses it exactly.
    Returns the rest joints (24, 3)."""
    joints = np.zeros((24, 3))
    for j, p in enumerate(PARENTS):
        joints[j] = OFFSETS[j] + (joints[p] if p >= 0 else 0)
    v_template = (joints[:, None] + CORNERS[None]).reshape(-1, 3)
    weights = np.repeat(np.eye(24), 4, axis=0)
    if blend:
        for j, p in enumerate(PARENTS[1:], start=1):
            weights[4 * j + 2:4 * j + 4, j], weights[4 * j + 2:4 * j + 4, p] = 0.6, 0.4
    regressor = np.repeat(np.eye(24), 4, axis=0).T / 4.0
    faces = np.array([[4 * j, 4 * j + 1, 4 * j + 2] for j in range(24)] + [[4 * j, 4 * j + 3, 4 * j + 1] for j in range(24)])
    np.savez(path, v_template=v_template, shapedirs=np.zeros((96, 3, 10)), posedirs=np.zeros((96, 3, 207)),
             J_regressor=regressor, weights=weights, kintree_table=np.array([[4294967295] + PARENTS[1:], list(range(24))]),
             f=faces)
    return joints


def write_capsule_smpl(path) -> None:
    """A body-like SMPL-format .npz for pictures: a trimesh capsule along each bone (the head, hands and feet past
    their joints), bound to the joint that turns it, plus the 4 hidden vertices per joint that the joint regressor
    averages (so the rest joints are exactly SMPL-like). No shape space, no pose correctives."""
    import trimesh

    joints = write_synthetic_smpl(path)
    radius = {1: 0.08, 2: 0.08, 3: 0.12, 4: 0.07, 5: 0.07, 6: 0.13, 7: 0.055, 8: 0.055, 9: 0.14, 10: 0.045,
              11: 0.045, 12: 0.05, 13: 0.07, 14: 0.07, 15: 0.05, 16: 0.055, 17: 0.055, 18: 0.045, 19: 0.045, 20: 0.04,
              21: 0.04, 22: 0.035, 23: 0.035}
    tips = {15: (0, 0.1, 0.02, 0.095), 22: (0.06, 0, 0, 0.035), 23: (-0.06, 0, 0, 0.035), 10: (0, -0.01, 0.05, 0.04),
            11: (0, -0.01, 0.05, 0.04)}  # past a leaf: (direction x, y, z, radius)
    parts = [(joints[PARENTS[j]], joints[j], r, PARENTS[j]) for j, r in radius.items()]
    parts += [(joints[j], joints[j] + np.array(t[:3]), t[3], j) for j, t in tips.items()]
    vertices, faces, owner = [], [], []
    for start, end, r, j in parts:
        axis = end - start
        mesh = trimesh.creation.capsule(height=float(np.linalg.norm(axis)), radius=r, count=[12, 6])
        mesh.apply_transform(trimesh.geometry.align_vectors([0, 0, 1], axis / np.linalg.norm(axis)))
        mesh.apply_translation((start + end) / 2)
        faces.append(mesh.faces + sum(len(v) for v in vertices))
        vertices.append(mesh.vertices)
        owner += [j] * len(mesh.vertices)
    with np.load(path) as npz:
        data = dict(npz)
    hidden = len(data["v_template"])
    v = np.concatenate([data["v_template"], *vertices])
    weights = np.concatenate([data["weights"], np.eye(24)[owner]])
    regressor = np.concatenate([data["J_regressor"], np.zeros((24, len(v) - hidden))], axis=1)
    np.savez(path, **{**data, "v_template": v, "weights": weights, "J_regressor": regressor,
                      "f": np.concatenate(faces) + hidden, "shapedirs": np.zeros((len(v), 3, 10)),
                      "posedirs": np.zeros((len(v), 3, 207))})
