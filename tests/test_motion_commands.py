"""`kinema generate | inbetween | regenerate | long` with the shipped checkpoints, files read back as BVH."""
import re

import numpy as np
import pytest

from app.cli import main
from app.engine.document.files import read_take
from app.engine.io.bvh import read_bvh


@pytest.fixture(scope="module")
def wave(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "wave.bvh"
    assert main(["generate", "a person waves with the left hand", "--frames", "120", "-o", str(path)]) == 0
    return path


def test_generate_writes_a_bvh_of_the_asked_length(wave):
    bvh = read_bvh(wave)
    assert bvh.n_frames == 120 and abs(bvh.fps - 20) < 1e-6 and len(bvh.names) == 21


def test_generate_is_deterministic_for_a_seed(wave, tmp_path):
    again = tmp_path / "again.bvh"
    assert main(["generate", "a person waves with the left hand", "--frames", "120", "-o", str(again)]) == 0
    assert again.read_text() == wave.read_text()


def test_no_cleanup_leaves_the_planted_feet_creeping_that_the_default_holds_still(tmp_path):
    from app.engine.cleanup import foot_contacts
    from app.engine.skeleton import BANDAI_NAMCO_21 as SKELETON

    def planted_toe_speed(positions: np.ndarray) -> float:
        """Mean horizontal toe speed (cm/s) over steps where the clean-up's own contacts hold a foot down."""
        down = foot_contacts(positions, SKELETON)  # (T, 2)
        speeds = []
        for foot, (_, toe) in enumerate((SKELETON.foot_left, SKELETON.foot_right)):
            step = np.linalg.norm(np.diff(positions[:, toe][:, [0, 2]], axis=0), axis=-1) * 20 * 100
            speeds.append(step[down[1:, foot] & down[:-1, foot]])
        return float(np.concatenate(speeds).mean())

    speed = {}
    for flag in ([], ["--no-cleanup"]):
        out = tmp_path / f"walk-{len(flag)}.bvh"
        assert main(["generate", "a person walks forward", "--frames", "120", "-o", str(out), *flag]) == 0
        speed[len(flag)] = planted_toe_speed(read_take(out).positions)
    # the engine holds them to ~0 cm/s; read back from the BVH the rig's own bone lengths leave some creep (model card)
    assert speed[0] < 0.6 * speed[1]


def test_generate_follows_waypoints_and_pins(tmp_path):
    from app.engine.constraints import Constraints, Pin, Waypoint
    from app.engine.ops import generate

    out = tmp_path / "path.bvh"
    assert main(["generate", "a person walks forward", "--frames", "100", "--waypoints", "0.5,1.5@40;1.5,3@99",
                 "-o", str(out)]) == 0
    bvh = read_bvh(out)
    hips = bvh.world_positions()[:, bvh.names.index("Hips")]  # cm, the take's own frame
    assert np.abs(hips[[40, 99]][:, [0, 2]] - [[50, 150], [150, 300]]).max() < 0.1
    motion = generate("a person walks forward", 100, constraints=Constraints(
        (Waypoint(0.5, 1.5, 40),), (Pin("Hand_R", 60, (0.8, 1.3, 2.2)), Pin("Foot_L", 80, (1.2, 0.1, 2.6)))))
    p = motion.positions
    assert np.linalg.norm(p[60, 12] - [0.8, 1.3, 2.2]) < 0.01 and np.linalg.norm(p[80, 15] - [1.2, 0.1, 2.6]) < 0.01


def test_inbetween_keeps_the_locked_frames(wave, tmp_path, capsys):
    out = tmp_path / "jump.bvh"
    assert main(["inbetween", str(wave), "--lock", "0,60,119", "--text", "a person jumps", "-o", str(out)]) == 0
    assert "120 frames" in capsys.readouterr().out
    before, after = read_take(wave).positions, read_take(out).positions
    offset = after[0, 0] - before[0, 0]  # reading puts each take's lowest point on the floor: a constant shift
    assert np.abs(before[[0, 60, 119]] + offset - after[[0, 60, 119]]).max() < 2e-3  # through BVH text and IK
    assert np.abs(before[20:40] - after[20:40]).max() > 0.05


def test_inbetween_with_the_diffusion_engine(wave, tmp_path):
    """--engine diffusion in-paints with Motion Mamba, as the studio's engine choice does: the keys stay, the frames
    between differ from the masked engine's."""
    out, masked = tmp_path / "diffusion.bvh", tmp_path / "masked.bvh"
    argv = ["inbetween", str(wave), "--lock", "0,60,119", "--text", "a person jumps", "--steps", "4"]
    assert main([*argv, "--engine", "diffusion", "-o", str(out)]) == 0
    assert main([*argv, "-o", str(masked)]) == 0
    before, after = read_take(wave).positions, read_take(out).positions
    assert _moved_mm(before, after, [0, 60, 119]) < 2 and _moved_mm(before, after, np.r_[20:40]) > 20
    assert _moved_mm(read_take(masked).positions, after, np.r_[20:40]) > 20


@pytest.mark.parametrize("verb", ["regenerate", "edit-upper"])
def test_range_verbs_keep_the_frames_outside_the_range(wave, tmp_path, verb):
    out = tmp_path / f"{verb}.bvh"
    assert main([verb, str(wave), "--range", "40:80", "--text", "a person waves both hands", "-o", str(out)]) == 0
    before, after = read_take(wave).positions, read_take(out).positions
    assert after.shape == before.shape
    offset = after[0, 0] - before[0, 0]  # reading puts each take's lowest point on the floor
    assert np.abs(before[:30] + offset - after[:30]).max() < 2e-3
    assert np.abs(before[50:70] - after[50:70]).max() > 0.02


def test_an_edited_file_stays_where_it_was(bandai_namco_sample, tmp_path):
    """An animator's own take (this one starts 5 m from the origin) comes back on the same path, not at the origin."""
    walk = bandai_namco_sample / "dataset-2_walk_normal_001.bvh"
    out = tmp_path / "walk-waving.bvh"
    assert main(["edit-upper", str(walk), "--range", "30:60", "--text", "a person waves both hands", "-o", str(out)]) == 0
    source, edited = read_bvh(walk), read_bvh(out)
    toes_in = source.world_positions()[::3, source.names.index("Toes_R")]  # 30 fps -> every 3rd frame is at 10 fps
    toes_out = edited.world_positions()[::2, edited.names.index("Toes_R")]  # 20 fps -> every 2nd frame
    n = min(len(toes_in), len(toes_out))
    assert np.abs(toes_out[:n] - toes_in[:n]).max() < 1.0  # cm: the same footsteps in the same place


def test_long_take_has_the_sum_of_its_segments(tmp_path):
    out = tmp_path / "long.bvh"
    assert main(["long", "a person walks forward", "80", "a person waves the right hand", "60", "-o", str(out)]) == 0
    assert read_bvh(out).n_frames == 140


def _moved_mm(before, after, frames) -> float:
    offset = after[0, 0] - before[0, 0]  # reading puts each take's lowest point on the floor: a constant shift
    return 1000 * float(np.abs(before[frames] + offset - after[frames]).max())


@pytest.mark.parametrize("verb", ["regenerate", "edit-upper"])
def test_range_verbs_keep_a_locked_key_inside_the_range(wave, tmp_path, verb):
    """Keys at 20/60/100, selection 30–90: the key at 60 stays (the studio moved it by 376/403 mm before)."""
    out = tmp_path / f"{verb}.bvh"
    assert main([verb, str(wave), "--range", "30:91", "--lock", "60", "--text", "a person jumps", "-o", str(out)]) == 0
    before, after = read_take(wave).positions, read_take(out).positions
    assert _moved_mm(before, after, [60]) < 2  # through BVH text and IK
    assert _moved_mm(before, after, np.r_[40:50]) > 20


def test_inbetween_keeps_the_frames_outside_the_keys(wave, tmp_path):
    """In-between fills between the first and last key; before and after them nothing moves (it moved 0.41 m)."""
    out, extended = tmp_path / "between.bvh", tmp_path / "extended.bvh"
    argv = ["inbetween", str(wave), "--lock", "20,60,100", "--text", "a person jumps"]
    assert main([*argv, "-o", str(out)]) == 0
    assert main([*argv, "--extend", "-o", str(extended)]) == 0
    before, after = read_take(wave).positions, read_take(out).positions
    assert _moved_mm(before, after, np.r_[0:21, 100:120]) < 2
    assert _moved_mm(before, after, np.r_[30:50]) > 20
    assert _moved_mm(before, read_take(extended).positions, np.r_[0:10]) > 20


def test_generate_makes_two_minutes(tmp_path, capsys):
    out = tmp_path / "two-minutes.bvh"
    assert main(["generate", "a person walks forward", "--frames", "2400", "-o", str(out)]) == 0
    assert read_bvh(out).n_frames == 2400 and "(120.0 s)" in capsys.readouterr().out


def test_a_long_prompt_gets_a_warning_naming_what_is_ignored(tmp_path, capsys):
    text = ("a person walks forward slowly, then turns to the left and waves with the right hand, then sits down on "
            "a chair and crosses the legs while looking around the room")
    assert main(["generate", text, "--frames", "40", "-o", str(tmp_path / "long-prompt.bvh")]) == 0
    err = capsys.readouterr().err
    assert "reads the first 32 tokens" in err and '"around the room"' in err
    assert main(["generate", "a person waves", "--frames", "40", "-o", str(tmp_path / "short.bvh")]) == 0
    assert "warning" not in capsys.readouterr().err


def test_every_verb_works_from_any_folder(wave, tmp_path, monkeypatch, capsys):
    """Run outside the checkout, each verb finds the shipped models (the diffusion loader, eval and bench used
    the relative checkpoints/ folder)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for argv in (["generate", "a person walks", "--frames", "40", "-o", "g.bvh"],
                 ["generate", "a person walks", "--frames", "40", "--engine", "diffusion", "-o", "d.bvh"],
                 ["inbetween", str(wave), "--lock", "0,60", "--text", "a person jumps", "-o", "i.bvh"],
                 ["regenerate", str(wave), "--range", "40:80", "--text", "a person jumps", "-o", "r.bvh"],
                 ["edit-upper", str(wave), "--range", "40:80", "--text", "a person waves", "-o", "e.bvh"],
                 ["long", "a person walks", "40", "a person jumps", "40", "-o", "l.bvh"]):
        assert main(argv) == 0, argv
        assert read_bvh(elsewhere / argv[-1]).n_frames > 0
    assert main(["bench", "--runs", "1", "--only", "diffusion"]) == 0
    assert re.search(r"generate \(diffusion\)\s+cpu\s+[\d.]+", capsys.readouterr().out)  # timed, not "no model"
    assert main(["eval", "--model", "real", "--data", str(elsewhere / "missing")]) == 2
    assert "evaluator" not in capsys.readouterr().err  # the evaluator loaded; only the data folder is missing


@pytest.mark.parametrize("argv, message", [
    (["inbetween", "{wave}", "--lock", "0,300", "--text", "jump"], "frame 300 is outside the take (0–119)"),
    (["inbetween", "{wave}", "--lock", "0,x", "--text", "jump"], "cannot read frames"),
    (["regenerate", "{wave}", "--range", "50:40", "--text", "jump"], "is empty"),
    (["generate", " ", "--frames", "40"], "empty prompt"),
    (["generate", "walk", "--frames", "12001"], "4 to 12000 frames"),
    (["regenerate", "{wave}", "--range", "30:32", "--lock", "30,31", "--text", "jump"], "every frame of 30–31 is locked"),
    (["inbetween", "{wave}", "--lock", "60", "--text", "jump"], "between the first and the last key"),
    (["long", "walk", "80", "run"], "pairs"),
    (["inbetween", "{missing}", "--lock", "0", "--text", "jump"], "no such file"),
    (["generate", "walk", "--frames", "40", "--waypoints", "1,2@60"], "frame 60 is outside the take (0–39)"),
    (["generate", "walk", "--frames", "40", "--waypoints", "1;2"], "cannot read the waypoint"),
    (["generate", "walk", "--frames", "40", "--pin", "Spine@3=0,1,0"], "cannot pin 'Spine'"),
])
def test_bad_input_is_one_line_and_writes_nothing(wave, tmp_path, capsys, argv, message):
    out = tmp_path / "out.bvh"
    argv = [a.format(wave=wave, missing=tmp_path / "missing.bvh") for a in argv]
    assert main([*argv, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("suffix", [".fbx", ".glb"])
def test_generate_writes_the_format_its_extension_names(tmp_path, suffix):
    """`-o walk.fbx` is a real FBX (it used to be BVH text under that name), `-o walk.glb` a real glTF."""
    out = tmp_path / f"walk{suffix}"
    assert main(["generate", "a person walks", "--frames", "40", "-o", str(out), "--units", "m"]) == 0
    if suffix == ".fbx":
        ufbx = pytest.importorskip("ufbx")
        scene = ufbx.load_file(str(out))
        assert scene.settings.unit_meters == pytest.approx(1.0)
        assert sum(n.bone is not None for n in list(scene.nodes)) == 21
        assert next(iter(scene.anim_stacks)).time_end == pytest.approx(39 / 20)
    else:
        gl = pytest.importorskip("pygltflib")
        gltf = gl.GLTF2().load(str(out))
        assert len(gltf.skins[0].joints) == 21 and gltf.accessors[1].count == 40


@pytest.mark.slow
def test_an_installed_wheel_finds_its_models_from_any_folder(tmp_path):
    """A non-editable install (the wheel, under another prefix) carries the checkpoints and finds them outside any
    checkout: the engine's default folder is not the source tree's then."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    repo, source = Path(__file__).resolve().parents[1], tmp_path / "source"  # a copy: the build leaves files behind
    shutil.copytree(repo / "app", source / "app", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(repo / name, source / name)
    (source / "checkpoints").mkdir()
    for file in (repo / "checkpoints").iterdir():
        if file.suffix in (".safetensors", ".md") and ".resume" not in file.name:
            (source / "checkpoints" / file.name).symlink_to(file)
    pip_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # no checkout on the path: a clean install
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                            str(tmp_path / "wheel"), str(source)], capture_output=True, text=True, timeout=600,
                           env=pip_env)
    assert build.returncode == 0, build.stderr
    wheel = next((tmp_path / "wheel").glob("kinema-*.whl"))
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--ignore-installed", "-q",
                              "--prefix", str(tmp_path / "prefix"), str(wheel)], capture_output=True, text=True,
                             timeout=600, env=pip_env)
    assert install.returncode == 0, install.stderr
    site = next((tmp_path / "prefix").glob("lib/python*/site-packages"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1", "HOME": str(tmp_path)}
    argv = ["generate", "a person walks", "--frames", "40", "--engine", "diffusion", "-o", "d.bvh"]
    result = subprocess.run([sys.executable, "-m", "app.cli", *argv], cwd=elsewhere, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert read_bvh(elsewhere / "d.bvh").n_frames == 40
    where = subprocess.run([sys.executable, "-c", "import app.engine.models.checkpoint as c; print(c.SHIPPED)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
    assert where.stdout.strip().startswith(str(tmp_path / "prefix")), where.stderr


def test_generate_warns_on_stderr_about_a_prompt_far_from_the_training_captions(tmp_path, capsys):
    assert main(["generate", "a person rows a boat", "--frames", "16", "-o", str(tmp_path / "row.bvh")]) == 0
    err = capsys.readouterr().err
    assert "kinema: warning: “a person rows a boat” is far from everything the models were trained on" in err
    assert "Nearest known actions:" in err


def test_long_is_quiet_about_known_actions(tmp_path, capsys):
    assert main(["long", "a person walks forward", "40", "someone waves with the left hand", "40",
                 "-o", str(tmp_path / "long.bvh")]) == 0
    assert "warning" not in capsys.readouterr().err
