import hashlib
import json
import shutil

from app import doctor
from app.cli import main
from app.engine.models.checkpoint import SHIPPED


def test_doctor_lists_every_shipped_checkpoint_with_its_sha256_and_training(capsys):
    assert main(["doctor", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    masked = SHIPPED / "masked.safetensors"
    row = rows["checkpoint masked.safetensors"]
    assert row["status"] == "ok"
    assert hashlib.sha256(masked.read_bytes()).hexdigest() in row["detail"]
    assert "steps" in row["detail"] and "s of training" in row["detail"]
    for name in ("CPU", "CUDA", "mamba-ssm kernels", "text encoder (MiniLM)"):
        assert name in rows


def test_a_truncated_checkpoint_is_reported_not_raised(tmp_path):
    good = SHIPPED / "diffusion.safetensors"
    shutil.copy(good, tmp_path / "diffusion.safetensors")
    (tmp_path / "broken.safetensors").write_bytes(good.read_bytes()[:1000])
    rows = {row.name: row for row in doctor.checkpoint_rows(tmp_path)}
    assert "steps" in rows["checkpoint diffusion.safetensors"].detail
    assert "unreadable" in rows["checkpoint broken.safetensors"].detail


def test_an_empty_models_folder_says_how_to_get_them(tmp_path, capsys):
    assert main(["doctor", "--checkpoints", str(tmp_path), "--strict"]) == 2
    out = capsys.readouterr().out
    assert "no .safetensors in" in out and "-> git checkout -- checkpoints" in out


def test_missing_egl_gives_the_install_command(monkeypatch):
    monkeypatch.setattr(doctor.ctypes.util, "find_library", lambda name: None)
    row = doctor._egl()
    assert row.status == doctor.MISSING and row.fix.startswith("apt-get install")


def test_a_failing_check_becomes_a_row(monkeypatch):
    def broken():
        raise OSError("probe exploded")

    monkeypatch.setattr(doctor, "_compiler", broken)
    rows = doctor.run_checks(SHIPPED)
    assert any("probe exploded" in row.detail for row in rows)


def test_the_smpl_row_says_which_model_kinema_finds(tmp_path, monkeypatch):
    from synthetic_smpl import write_synthetic_smpl

    monkeypatch.delenv("KINEMA_SMPL", raising=False)
    assert doctor._smpl().status == doctor.INFO and "no model in $KINEMA_SMPL" in doctor._smpl().detail
    write_synthetic_smpl(tmp_path / "SMPLX_NEUTRAL.npz", family="SMPL-X")
    monkeypatch.setenv("KINEMA_SMPL", str(tmp_path))
    row = doctor._smpl()
    assert row.status == doctor.OK and row.detail.endswith("SMPL-X, 220 vertices")
    (tmp_path / "SMPLX_NEUTRAL.npz").write_text("not a model")
    row = doctor._smpl()
    assert row.status == doctor.MISSING and "cannot read the model" in row.detail and "KINEMA_SMPL" in row.fix
