"""Binary FBX 7.4 writer: a rig's animation (and optionally its skinned body) for Maya, MotionBuilder, Blender,
Unity and Unreal, which all read this version.

No FBX SDK is available, so the file is built here from the public description of the format (node records with
typed properties, zlib-compressed arrays). The scene is what DCC importers expect of a character:
- every joint a LimbNode Model (with its NodeAttribute), the root directly under the scene, a BindPose;
- one AnimationStack with one AnimationLayer; the root's translation and every joint's rotation as curves
  (AnimationCurveNode "T"/"R" + one AnimationCurve per axis), one key per frame at the take's frame rate,
  interpolated linearly; rotations are Euler XYZ (FBX's default order, stated on every joint), unwrapped so
  the curves never jump by 360 degrees;
- GlobalSettings stating Y up, +Z front, right-handed, the unit (UnitScaleFactor, centimetres per file unit)
  and the frame rate;
- with a SkinnedMesh: a Geometry with normals, its Mesh Model, a Skin deformer with one Cluster per weighted
  joint (Transform / TransformLink from the bind pose).
The bytes depend only on the take: IDs are numbered in a fixed order and the one time stamp is fixed.
"""
from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.engine.euler import matrix_to_euler, unwrap_euler
from app.engine.io.atomic import write_atomic
from app.engine.io.rig import RigAnimation, SkinnedMesh

FBX_VERSION = 7400
KTIME_PER_SECOND = 46186158000  # FBX time units per second
UNITS = {"cm": 1.0, "m": 100.0}  # UnitScaleFactor: centimetres per file unit
# FBX's built-in frame rates (FbxTime::EMode); any other rate is "custom" (14) with CustomFrameRate.
TIME_MODES = {120.0: 1, 100.0: 2, 60.0: 3, 50.0: 4, 48.0: 5, 30.0: 6, 25.0: 10, 24.0: 11, 1000.0: 12, 96.0: 15,
              72.0: 16}
CUSTOM_TIME_MODE = 14
TAKE_NAME = "Take 001"

_MAGIC = b"Kaydara FBX Binary  \x00\x1a\x00"
_SENTINEL = b"\x00" * 13  # the null record that closes a nested list (FBX < 7.5)
_ALWAYS_CLOSED = {"AnimationStack", "AnimationLayer"}  # nested lists that importers expect even when empty
# The FBX SDK checks the file ID and the footer ID against the creation time; this fixed triple is the one known
# to pass (as Blender's exporter also writes), and it keeps the bytes of a take the same from run to run.
_CREATION_TIME = "1970-01-01 10:00:00:000"
_FILE_ID = bytes.fromhex("28b32aebb624ccc2bfc8b02aa92bfcf1")
_FOOTER_ID = bytes.fromhex("fabcab09d0c8d466b176fb831cf7267e")
_FOOTER_MAGIC = bytes.fromhex("f85a8c6adef5d97eece90ce3758f290b")
_LINEAR_KEYS = 0x104  # KeyAttrFlags: linear interpolation (0x4) | constant-standard (0x100)


class Long(int):
    """An int written as an FBX int64 ('L': object IDs, times); plain ints are int32 ('I')."""


@dataclass
class Node:
    """One FBX node record: a name, typed properties, nested nodes."""
    name: str
    props: list = field(default_factory=list)
    children: list[Node] = field(default_factory=list)

    def add(self, name: str, *props, children: list[Node] | None = None) -> Node:
        node = Node(name, list(props), children or [])
        self.children.append(node)
        return node


def _prop(value) -> bytes:
    """One property: type code + little-endian payload. Integer arrays of more than 128 bytes are zlib-compressed
    (key times shrink about 20-fold); float arrays are stored raw, as curves of motion barely compress and
    compressing them would double the time a long take takes to write."""
    if isinstance(value, bool):
        return b"C" + struct.pack("<?", value)
    if isinstance(value, Long):
        return b"L" + struct.pack("<q", value)
    if isinstance(value, int):
        return b"I" + struct.pack("<i", value)
    if isinstance(value, float):
        return b"D" + struct.pack("<d", value)
    if isinstance(value, str):
        data = value.encode("utf-8")
        return b"S" + struct.pack("<I", len(data)) + data
    if isinstance(value, bytes):
        return b"R" + struct.pack("<I", len(value)) + value
    if isinstance(value, np.ndarray):
        code = {np.dtype("<f4"): b"f", np.dtype("<f8"): b"d", np.dtype("<i4"): b"i", np.dtype("<i8"): b"l"}[value.dtype]
        data = np.ascontiguousarray(value).tobytes()
        encoding = 0
        if len(data) > 128 and code in b"il":
            data, encoding = zlib.compress(data, 1), 1
        return code + struct.pack("<3I", value.size, encoding, len(data)) + data
    raise TypeError(f"no FBX property type for {type(value).__name__}")


def _encode(node: Node, offset: int, arrays: dict[int, bytes]) -> bytes:
    """The node's record starting at absolute file `offset` (records store the absolute offset of their end).
    `arrays` keeps each array's encoding by identity: every curve shares one array of key times."""
    for p in node.props:
        if isinstance(p, np.ndarray) and id(p) not in arrays:
            arrays[id(p)] = _prop(p)
    props = b"".join(arrays[id(p)] if isinstance(p, np.ndarray) else _prop(p) for p in node.props)
    name = node.name.encode("ascii")
    head = 12 + 1 + len(name) + len(props)
    body = bytearray()
    for child in node.children:
        body += _encode(child, offset + head + len(body), arrays)
    if node.children or not node.props or node.name in _ALWAYS_CLOSED:
        body += _SENTINEL
    return struct.pack("<3I", offset + head + len(body), len(node.props), len(props)) + bytes([len(name)]) + name \
        + props + bytes(body)


def encode_fbx(nodes: list[Node]) -> bytes:
    """The whole binary file: header, top-level records, closing null record and footer."""
    out = bytearray(_MAGIC + struct.pack("<I", FBX_VERSION))
    arrays: dict[int, bytes] = {}
    for node in nodes:
        out += _encode(node, len(out), arrays)
    out += _SENTINEL + _FOOTER_ID + b"\x00" * 4
    out += b"\x00" * (16 - len(out) % 16)  # align to 16 (a full 16 when already aligned), as the SDK does
    out += struct.pack("<I", FBX_VERSION) + b"\x00" * 120 + _FOOTER_MAGIC
    return bytes(out)


# ----------------------------------------------------------------------------- scene building


def _name(name: str, cls: str) -> str:
    """FBX's binary object name: "<name>\\x00\\x01<class>"."""
    return f"{name}\x00\x01{cls}"


def _properties(*entries: tuple) -> Node:
    """Properties70 with one P record per (name, type, label, flags, *values)."""
    return Node("Properties70", [], [Node("P", list(e)) for e in entries])


def _matrix(m: np.ndarray) -> np.ndarray:
    """A 4x4 column-vector matrix as FBX stores it: 16 doubles, translation in elements 12-14."""
    return np.ascontiguousarray(np.asarray(m, dtype="<f8").T).reshape(16)


def _euler_xyz(rotations: np.ndarray) -> np.ndarray:
    """(T, J, 3, 3) -> (T, J, 3) FBX Lcl Rotation in degrees for rotation order XYZ (R = Rz Ry Rx), continuous."""
    zyx = unwrap_euler(matrix_to_euler(rotations, "ZYX"))  # our intrinsic "ZYX" is R = Rz(a0) Ry(a1) Rx(a2)
    return zyx[..., ::-1]


def _time_mode(fps: float) -> int:
    return TIME_MODES.get(float(fps), CUSTOM_TIME_MODE)


class _Ids:
    """Object IDs in creation order: the same scene always gets the same IDs."""

    def __init__(self) -> None:
        self.next = 1_000_000

    def __call__(self) -> Long:
        self.next += 1
        return Long(self.next)


def fbx_scene(anim: RigAnimation, mesh: SkinnedMesh | None = None, units: str = "cm",
              creator: str = "Kinema") -> list[Node]:
    """The take (and body) as FBX top-level nodes; lengths converted from metres to `units`."""
    if units not in UNITS:
        raise ValueError(f"units must be one of {', '.join(UNITS)}, got {units!r}")
    if anim.n_frames == 0:
        raise ValueError("the take has no frames to export")
    scale = 100.0 / UNITS[units]  # file units per metre
    rig, ids = anim.rig, _Ids()
    t_end = Long(round((anim.n_frames - 1) * KTIME_PER_SECOND / anim.fps))
    key_times = np.round(np.arange(anim.n_frames) * (KTIME_PER_SECOND / anim.fps)).astype("<i8")

    header = Node("FBXHeaderExtension")
    header.add("FBXHeaderVersion", 1003)
    header.add("FBXVersion", FBX_VERSION)
    header.add("EncryptionType", 0)
    stamp = header.add("CreationTimeStamp")
    for key, value in (("Version", 1000), ("Year", 1970), ("Month", 1), ("Day", 1), ("Hour", 10), ("Minute", 0),
                       ("Second", 0), ("Millisecond", 0)):
        stamp.add(key, value)
    header.add("Creator", creator)

    settings = Node("GlobalSettings")
    settings.add("Version", 1000)
    settings.children.append(_properties(
        ("UpAxis", "int", "Integer", "", 1), ("UpAxisSign", "int", "Integer", "", 1),
        ("FrontAxis", "int", "Integer", "", 2), ("FrontAxisSign", "int", "Integer", "", 1),
        ("CoordAxis", "int", "Integer", "", 0), ("CoordAxisSign", "int", "Integer", "", 1),
        ("OriginalUpAxis", "int", "Integer", "", 1), ("OriginalUpAxisSign", "int", "Integer", "", 1),
        ("UnitScaleFactor", "double", "Number", "", UNITS[units]),
        ("OriginalUnitScaleFactor", "double", "Number", "", UNITS[units]),
        ("TimeMode", "enum", "", "", _time_mode(anim.fps)), ("TimeProtocol", "enum", "", "", 2),
        ("SnapOnFrameMode", "enum", "", "", 0),
        ("TimeSpanStart", "KTime", "Time", "", Long(0)), ("TimeSpanStop", "KTime", "Time", "", t_end),
        ("CustomFrameRate", "double", "Number", "", float(anim.fps)),
    ))

    objects, connections = Node("Objects"), Node("Connections")
    counts: dict[str, int] = {}

    def obj(kind: str, *props, children: list[Node] | None = None) -> Node:
        counts[kind] = counts.get(kind, 0) + 1
        return objects.add(kind, *props, children=children)

    def connect(child: Long, parent: Long, prop: str | None = None) -> None:
        connections.add("C", *(("OO", child, parent) if prop is None else ("OP", child, parent, prop)))

    # skeleton: LimbNodes in the rest pose, root under the scene
    bind = rig.bind_matrices()
    bind[:, :3, 3] *= scale
    rest_euler = _euler_xyz(rig.rest_rotations[None])[0]
    models = []
    for j, name in enumerate(rig.names):
        attr, model = ids(), ids()
        models.append(model)
        obj("NodeAttribute", attr, _name(name, "NodeAttribute"), "LimbNode", children=[Node("TypeFlags", ["Skeleton"])])
        translation = rig.offsets[j] * scale
        obj("Model", model, _name(name, "Model"), "LimbNode", children=[
            Node("Version", [232]),
            _properties(
                ("RotationActive", "bool", "", "", 1), ("RotationOrder", "enum", "", "", 0),
                ("InheritType", "enum", "", "", 1), ("DefaultAttributeIndex", "int", "Integer", "", 0),
                ("Lcl Translation", "Lcl Translation", "", "A", *map(float, translation)),
                ("Lcl Rotation", "Lcl Rotation", "", "A", *map(float, rest_euler[j])),
                ("Lcl Scaling", "Lcl Scaling", "", "A", 1.0, 1.0, 1.0)),
            Node("Shading", [True]), Node("Culling", ["CullingOff"])])
        connect(attr, model)
        connect(model, Long(0) if rig.parents[j] < 0 else models[rig.parents[j]])

    pose_nodes = [(models[j], bind[j]) for j in range(rig.n_joints)]
    if mesh is not None:
        pose_nodes.insert(0, (_mesh(obj, connect, ids, mesh, models, rig.names, bind, scale), np.eye(4)))
    pose = obj("Pose", ids(), _name("BindPose", "Pose"), "BindPose")
    pose.add("Type", "BindPose")
    pose.add("Version", 100)
    pose.add("NbPoseNodes", len(pose_nodes))
    for model, matrix in pose_nodes:
        pose.add("PoseNode", children=[Node("Node", [model]), Node("Matrix", [_matrix(matrix)])])

    # animation: one stack, one layer, T on the root, R on every joint
    stack, layer = ids(), ids()
    obj("AnimationStack", stack, _name(TAKE_NAME, "AnimStack"), "", children=[_properties(
        ("LocalStart", "KTime", "Time", "", Long(0)), ("LocalStop", "KTime", "Time", "", t_end),
        ("ReferenceStart", "KTime", "Time", "", Long(0)), ("ReferenceStop", "KTime", "Time", "", t_end))])
    obj("AnimationLayer", layer, _name("BaseLayer", "AnimLayer"), "")
    connect(layer, stack)
    euler = _euler_xyz(anim.local_rotations)  # (T, J, 3)
    channels = [(0, "T", "Lcl Translation", anim.root_positions * scale)]
    channels += [(j, "R", "Lcl Rotation", euler[:, j]) for j in range(rig.n_joints)]
    for j, short, prop, values in channels:
        node = ids()
        obj("AnimationCurveNode", node, _name(short, "AnimCurveNode"), "", children=[_properties(
            *((f"d|{axis}", "Number", "", "A", float(values[0, k])) for k, axis in enumerate("XYZ")))])
        connect(node, layer)
        connect(node, models[j], prop)
        for k, axis in enumerate("XYZ"):
            curve = ids()
            obj("AnimationCurve", curve, _name("", "AnimCurve"), "", children=[
                Node("Default", [float(values[0, k])]), Node("KeyVer", [4008]),
                Node("KeyTime", [key_times]), Node("KeyValueFloat", [values[:, k].astype("<f4")]),
                Node("KeyAttrFlags", [np.array([_LINEAR_KEYS], "<i4")]),
                Node("KeyAttrDataFloat", [np.zeros(4, "<f4")]),
                Node("KeyAttrRefCount", [np.array([anim.n_frames], "<i4")])])
            connect(curve, node, f"d|{axis}")

    definitions = Node("Definitions")
    definitions.add("Version", 100)
    definitions.add("Count", sum(counts.values()) + 1)
    for kind, count in [("GlobalSettings", 1), *counts.items()]:
        definitions.add("ObjectType", kind, children=[Node("Count", [count])])

    document = Node("Documents")
    document.add("Count", 1)
    document.add("Document", Long(1_000_000), "Scene", "Scene", children=[
        _properties(("SourceObject", "object", "", ""), ("ActiveAnimStackName", "KString", "", "", TAKE_NAME)),
        Node("RootNode", [Long(0)])])
    takes = Node("Takes")
    takes.add("Current", TAKE_NAME)
    takes.add("Take", TAKE_NAME, children=[
        Node("FileName", ["Take_001.tak"]), Node("LocalTime", [Long(0), t_end]),
        Node("ReferenceTime", [Long(0), t_end])])
    return [header, Node("FileId", [_FILE_ID]), Node("CreationTime", [_CREATION_TIME]), Node("Creator", [creator]),
            settings, document, Node("References"), definitions, objects, connections, takes]


def _mesh(obj, connect, ids: _Ids, mesh: SkinnedMesh, models: list[Long], names: tuple[str, ...], bind: np.ndarray,
          scale: float) -> Long:
    """Geometry + Mesh Model + Skin with one Cluster per weighted joint; returns the Mesh Model's ID."""
    mesh.check(len(models))
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    polygons = np.asarray(mesh.faces, dtype="<i4").copy()
    polygons[:, 2] = -polygons[:, 2] - 1  # the last index of each polygon is stored as -(index + 1)
    geometry, model, skin = ids(), ids(), ids()
    normals = mesh.vertex_normals()
    obj("Geometry", geometry, _name("Body", "Geometry"), "Mesh", children=[
        Node("GeometryVersion", [124]),
        Node("Vertices", [(vertices * scale).astype("<f8").reshape(-1)]),
        Node("PolygonVertexIndex", [polygons.reshape(-1)]),
        Node("LayerElementNormal", [0], [
            Node("Version", [101]), Node("Name", [""]), Node("MappingInformationType", ["ByVertice"]),
            Node("ReferenceInformationType", ["Direct"]), Node("Normals", [normals.astype("<f8").reshape(-1)])]),
        Node("Layer", [0], [Node("Version", [100]), Node("LayerElement", [], [
            Node("Type", ["LayerElementNormal"]), Node("TypedIndex", [0])])])])
    obj("Model", model, _name("Body", "Model"), "Mesh", children=[
        Node("Version", [232]),
        _properties(("DefaultAttributeIndex", "int", "Integer", "", 0), ("InheritType", "enum", "", "", 1)),
        Node("Shading", [True]), Node("Culling", ["CullingOff"])])
    obj("Deformer", skin, _name("Skin", "Deformer"), "Skin",
        children=[Node("Version", [101]), Node("Link_DeformAcuracy", [50.0])])
    connect(geometry, model)
    connect(model, Long(0))
    connect(skin, geometry)
    joints, weights = np.asarray(mesh.joints), np.asarray(mesh.weights, dtype=np.float64)
    for j, (bone, name) in enumerate(zip(models, names)):
        weight = np.where(joints == j, weights, 0.0).sum(1)  # (V,) this joint's weight on every vertex
        vertex = np.nonzero(weight > 0)[0]
        if vertex.size == 0:
            continue
        cluster = ids()
        obj("Deformer", cluster, _name(name, "SubDeformer"), "Cluster", children=[
            Node("Version", [100]), Node("UserData", ["", ""]),
            Node("Indexes", [vertex.astype("<i4")]), Node("Weights", [weight[vertex].astype("<f8")]),
            Node("Transform", [_matrix(np.linalg.inv(bind[j]))]), Node("TransformLink", [_matrix(bind[j])])])
        connect(cluster, skin)
        connect(bone, cluster)
    return model


def write_fbx(anim: RigAnimation, path: str | os.PathLike, mesh: SkinnedMesh | None = None, units: str = "cm",
              frame_range: tuple[int, int] | None = None, fps: float | None = None) -> None:
    """Write frames `frame_range` (end exclusive) of the animation as binary FBX 7.4, resampled to `fps` when
    given, in `units` ("cm" or "m"), with the skinned `mesh` when given. The write is atomic."""
    anim = anim.frames(frame_range).resampled(fps)
    write_atomic(Path(path), encode_fbx(fbx_scene(anim, mesh, units)))
