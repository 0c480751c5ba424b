"""Small model files in SMPL's layout, written by the tests (the real files are licensed and never shipped):
4 vertices around each of SMPL's 24 joints (or SMPL+H's 52, SMPL-X's 55), with the kinematic tree smplx gives them
and a T-pose of about their proportions."""
from __future__ import annotations

import numpy as np

PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
OFFSETS = np.array([
    [0, 0.93, 0], [0.06, -0.09, 0], [-0.06, -0.09, 0], [0, 0.11, 0], [0, -0.38, 0], [0, -0.38, 0], [0, 0.14, 0],
    [0, -0.40, 0], [0, -0.40, 0], [0, 0.06, 0], [0, -0.05, 0.12], [0, -0.05, 0.12], [0, 0.21, 0], [0.07, 0.11, 0],
    [-0.07, 0.11, 0], [0, 0.09, 0.03], [0.12, 0.03, 0], [-0.12, 0.03, 0], [0.26, 0, 0], [-0.26, 0, 0], [0.25, 0, 0],
    [-0.25, 0, 0], [0.08, 0, 0], [-0.08, 0, 0]])
CORNERS = np.array([[0.02, 0, 0], [-0.02, 0, 0], [0, 0.02, 0.02], [0, -0.02, -0.02]])


def _tree(family: str) -> tuple[list[int], np.ndarray]:
    """(parents, offsets) of SMPL's 24 joints, or SMPL+H's 52 (the 22 body joints and 3 joints per finger) or
    SMPL-X's 55 (jaw and eyes under the head, then the fingers)."""
    if family == "SMPL":
        return PARENTS, OFFSETS
    parents, offsets = PARENTS[:22], list(OFFSETS[:22])
    if family == "SMPL-X":
        parents, offsets = parents + [15, 15, 15], offsets + [[0, -0.05, 0.05], [0.03, 0.03, 0.08], [-0.03, 0.03, 0.08]]
    for side, wrist in ((1, 20), (-1, 21)):
        for f in range(5):  # index, middle, pinky, ring, thumb
            for k in range(3):
                parents.append(wrist if k == 0 else len(parents) - 1)
                offsets.append([side * (0.09 if k == 0 else 0.03), 0, 0.03 * (f - 2) if k == 0 else 0])
    return parents, np.array(offsets, dtype=np.float64)


def write_synthetic_smpl(path, blend: bool = False, family: str = "SMPL") -> np.ndarray:
    """An SMPL-format .npz (`family` "SMPL", "SMPL+H" or "SMPL-X") whose joint regressor finds each joint as its 4
    vertices' mean. The vertices are bound to their joint; with `blend`, the last two of each non-root joint's four
    are 60/40 between it and its parent (as SMPL's skin blends across a joint). No pose correctives, so linear blend
    skinning poses it exactly. Returns the rest joints (J, 3)."""
    parents, offsets = _tree(family)
    n = len(parents)
    joints = np.zeros((n, 3))
    for j, p in enumerate(parents):
        joints[j] = offsets[j] + (joints[p] if p >= 0 else 0)
    v_template = (joints[:, None] + CORNERS[None]).reshape(-1, 3)
    weights = np.repeat(np.eye(n), 4, axis=0)
    if blend:
        for j, p in enumerate(parents[1:], start=1):
            weights[4 * j + 2:4 * j + 4, j], weights[4 * j + 2:4 * j + 4, p] = 0.6, 0.4
    regressor = np.repeat(np.eye(n), 4, axis=0).T / 4.0
    faces = np.array([[4 * j, 4 * j + 1, 4 * j + 2] for j in range(n)] + [[4 * j, 4 * j + 3, 4 * j + 1] for j in range(n)])
    np.savez(path, v_template=v_template, shapedirs=np.zeros((4 * n, 3, 10)), posedirs=np.zeros((4 * n, 3, 9 * (n - 1))),
             J_regressor=regressor, weights=weights, kintree_table=np.array([[4294967295] + parents[1:], list(range(n))]),
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
