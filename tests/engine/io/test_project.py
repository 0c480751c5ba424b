""".kinema project files: exact round trip, every kind of damage refused in plain words, atomic saves."""
from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine.io import project
from app.engine.io.project import (SCHEMA_VERSION, ProjectData, ProjectError, TakeData, load_project, recovery_path,
                                   save_project)
from app.engine.skeleton import BANDAI_NAMCO_21, SMPL_22


def make_project() -> ProjectData:
    rng = np.random.default_rng(0)
    walk = TakeData("walk", BANDAI_NAMCO_21.name, 20.0, rng.normal(size=(60, 251)).astype(np.float32),
                    [{"text": "a person walks", "start": 0, "length": 40}, {"text": "then waves", "start": 40, "length": 20}],
                    [0, 59], (10, 30), "upper", rng.normal(size=(60, 21, 3)).astype(np.float32),
                    {"yaw": 1.25, "offset": [3.0, 0.0, -4.5]})
    jump = TakeData("jump ✓", SMPL_22.name, 30.0, rng.normal(size=(25, 263)).astype(np.float32), [], [], None, "full")
    return ProjectData({"title": "demo", "notes": {"any": ["extra", 1]}}, [walk, jump],
                       {"engine": "masked-transformer", "guidance": 4.5, "seed": 7, "steps": 12})


@pytest.fixture
def saved(tmp_path) -> Path:
    path = tmp_path / "take.kinema"
    save_project(path, make_project())
    return path


def rewrite(path: Path, change) -> None:
    """Apply `change(members: dict[str, bytes])` to the archive's members and write it back."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    change(members)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def edit_json(path: Path, change) -> None:
    def apply(members):
        document = json.loads(members["project.json"])
        change(document)
        members["project.json"] = json.dumps(document).encode()
    rewrite(path, apply)


def edit_arrays(path: Path, change) -> None:
    def apply(members):
        arrays = dict(np.load(io.BytesIO(members["arrays.npz"])))
        change(arrays)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        members["arrays.npz"] = buffer.getvalue()
    rewrite(path, apply)


def test_round_trip_is_exact(saved):
    original, loaded = make_project(), load_project(saved)
    assert {k: loaded.meta[k] for k in original.meta} == original.meta
    assert loaded.meta["app_version"] and loaded.meta["created"] == loaded.meta["modified"]
    assert loaded.settings == original.settings
    assert len(loaded.takes) == len(original.takes)
    for got, want in zip(loaded.takes, original.takes):
        np.testing.assert_array_equal(got.features, want.features)
        assert got.features.dtype == np.float32
        if want.positions is None:
            assert got.positions is None
        else:
            np.testing.assert_array_equal(got.positions, want.positions)
        assert replace(got, features=None, positions=None) == replace(want, features=None, positions=None)


def test_saving_again_keeps_created(saved):
    first = load_project(saved)
    save_project(saved, first)
    assert load_project(saved).meta["created"] == first.meta["created"]


def _check_message(path: Path, *fragments: str) -> None:
    with pytest.raises(ProjectError) as error:
        load_project(path)
    for fragment in fragments:
        assert fragment in str(error.value), str(error.value)


def test_not_a_zip(tmp_path):
    path = tmp_path / "take.kinema"
    path.write_text("HIERARCHY\nROOT Hips\n")
    _check_message(path, "take.kinema is not a Kinema project (not a zip file)")


def test_empty_file(tmp_path):
    (tmp_path / "take.kinema").write_bytes(b"")
    _check_message(tmp_path / "take.kinema", "take.kinema is empty")


def test_missing_file(tmp_path):
    _check_message(tmp_path / "gone.kinema", "gone.kinema cannot be read")


def test_truncated_file(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    _check_message(saved, "take.kinema is damaged", "cut short")


def test_foreign_zip(tmp_path):
    with zipfile.ZipFile(tmp_path / "other.kinema", "w") as archive:
        archive.writestr("readme.txt", "hello")
    _check_message(tmp_path / "other.kinema", "is not a Kinema project")


def test_missing_json(saved):
    rewrite(saved, lambda members: members.pop("project.json"))
    _check_message(saved, "is damaged: project.json is missing")


def test_bad_json(saved):
    rewrite(saved, lambda members: members.update({"project.json": b'{"format": "kinema-project", '}))
    _check_message(saved, "project.json is not valid JSON")


def test_newer_schema(saved):
    edit_json(saved, lambda d: d.update(schema_version=3))
    _check_message(saved, f"take.kinema was saved by a newer Kinema (schema 3; this version reads up to {SCHEMA_VERSION})")


def test_missing_arrays_file(saved):
    rewrite(saved, lambda members: members.pop("arrays.npz"))
    _check_message(saved, "is damaged: arrays.npz is missing")


def test_missing_array(saved):
    edit_arrays(saved, lambda arrays: arrays.pop("take0_features"))
    _check_message(saved, "take.kinema is damaged: arrays.npz is missing the features of take 'walk'")


def test_wrong_shape(saved):
    edit_arrays(saved, lambda arrays: arrays.update(take1_features=arrays["take1_features"][:, :251]))
    _check_message(saved, "take 'jump ✓'", "(25, 251)", "(25, 263)")


def test_nan_features(saved):
    def poison(arrays):
        arrays["take0_features"][5, 3] = np.nan
    edit_arrays(saved, poison)
    _check_message(saved, "take 'walk'", "NaN")


@pytest.mark.parametrize("change, fragment", [
    (lambda t: t.update(locked_frames=[3, 60]), "locked keyframe at frame 60 is outside the take (frames 0–59)"),
    (lambda t: t.update(segments=[{"text": "a", "start": -5, "length": 20}]), "must start at frame 0 or later"),
    (lambda t: t.update(selection=[30, 10]), "selection 30–10"),
    (lambda t: t.update(scope="legs"), "'legs' is not one of full, upper"),
    (lambda t: t.update(fps="fast"), "frame rate"),
    (lambda t: t.update(skeleton="robot"), "unknown skeleton 'robot'"),
    (lambda t: t.pop("frames"), "has no 'frames'"),
    (lambda t: t.update(placement={"yaw": "north", "offset": [0, 0, 0]}), "placement"),
    (lambda t: t.update(placement={"yaw": 0.5, "offset": [1, 2]}), "placement"),
])
def test_invalid_take_fields(saved, change, fragment):
    edit_json(saved, lambda d: change(d["takes"][0]))
    _check_message(saved, "take.kinema is damaged", fragment)


def test_invalid_settings(saved):
    edit_json(saved, lambda d: d["settings"].update(steps=0))
    _check_message(saved, "engine setting 'steps'")


@pytest.mark.parametrize("change, fragment", [
    (lambda p: p.takes[0].locked_frames.append(80), "locked keyframe at frame 80"),
    (lambda p: p.takes[0].segments.append({"text": "x", "start": -1, "length": 3}), "prompt segment 'x'"),
    (lambda p: p.takes[0].features.__setitem__((0, 0), np.inf), "NaN or infinite"),
    (lambda p: p.takes.append(p.takes[0]), "two takes are named 'walk'"),
    (lambda p: p.meta.update(when=object()), "cannot be saved"),
])
def test_save_validates_before_writing(saved, change, fragment):
    before = saved.read_bytes()
    data = make_project()
    change(data)
    with pytest.raises(ProjectError, match="cannot save take.kinema") as error:
        save_project(saved, data)
    assert fragment in str(error.value)
    assert saved.read_bytes() == before


@pytest.mark.parametrize("target", ["replace", "fsync"])
def test_failing_save_leaves_the_previous_file(saved, monkeypatch, target):
    before = saved.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(project.os, target, fail)
    data = make_project()
    data.takes[0].locked_frames.append(1)
    with pytest.raises(ProjectError, match="cannot save take.kinema: No space left on device"):
        save_project(saved, data)
    monkeypatch.undo()
    assert saved.read_bytes() == before
    assert os.listdir(saved.parent) == ["take.kinema"]


def test_interrupted_save_leaves_the_previous_file(saved, monkeypatch):
    before = saved.read_bytes()

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(project.os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_project(saved, make_project())
    monkeypatch.undo()
    assert saved.read_bytes() == before and os.listdir(saved.parent) == ["take.kinema"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_files_raise_only_project_errors(saved, data):
    original = saved.read_bytes()
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.one_of(st.just(len(mutated)), st.integers(0, len(mutated))))
    saved.write_bytes(bytes(mutated[:cut]))
    try:
        loaded = load_project(saved)
    except ProjectError:
        pass
    else:
        assert isinstance(loaded, ProjectData)  # a harmless byte, e.g. in a timestamp
    finally:
        saved.write_bytes(original)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_members_raise_only_project_errors(saved, data):
    """Damage inside a member that the zip's checksums do not catch (the archive rewritten around it)."""
    original = saved.read_bytes()
    member = data.draw(st.sampled_from(["project.json", "arrays.npz"]))

    def mutate(members):
        content = bytearray(members[member])
        for _ in range(data.draw(st.integers(1, 4))):
            content[data.draw(st.integers(0, min(len(content), 700) - 1))] = data.draw(st.integers(0, 255))
        members[member] = bytes(content[: data.draw(st.one_of(st.just(len(content)), st.integers(0, len(content))))])

    rewrite(saved, mutate)
    try:
        load_project(saved)
    except ProjectError:
        pass
    finally:
        saved.write_bytes(original)


def test_recovery_path(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    first = recovery_path(tmp_path / "a" / "walk.kinema")
    assert first.parent == tmp_path / "data" / "kinema" / "recovery" and first.parent.is_dir()
    assert first.name.startswith("walk-") and first.name.endswith(".kinema.autosave")
    assert recovery_path(tmp_path / "b" / "walk.kinema") != first  # same name, other folder
    assert recovery_path(tmp_path / "a" / "walk.kinema") == first
    assert recovery_path(None).name == "untitled.kinema.autosave"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/path")  # ignored, as the XDG spec says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert recovery_path(None).parent == tmp_path / "home" / ".local" / "share" / "kinema" / "recovery"
