import pytest

from app.engine.bench import format_results, machine_description, run_bench
from app.engine.models.checkpoint import SHIPPED


def test_bench_times_what_can_run_and_names_what_cannot(tmp_path):
    results = run_bench(tmp_path, runs=3, warmup=1)
    by_name = {r.operation: r for r in results if r.device == "cpu"}
    roundtrip = by_name["features -> positions -> features"]
    assert roundtrip.median_ms > 0 and roundtrip.frames_per_second > 0 and roundtrip.runs == 3
    missing = by_name["tokenizer encode"]
    assert missing.median_ms is None and "tokenizer.safetensors" in missing.note
    for edit in ("inbetween (4 keys)", "regenerate (100 frames)", "edit_upper (100 frames)", "long_sequence (4 prompts)"):
        assert by_name[edit].median_ms is None and "masked.safetensors" in by_name[edit].note
    for writer in ("write FBX (10,000 frames)", "write GLB (10,000 frames)"):
        row = by_name[writer]
        assert row.median_ms > 0 and row.frames == 10_000
        assert row.frames_per_second == pytest.approx(10_000 / (row.median_ms / 1000))
    table = format_results(results)
    assert table.splitlines()[0] == machine_description() and "threads" in table
    assert "(no " in table


def test_bench_times_the_masked_model_of_the_folder_it_is_given(tmp_path):
    (tmp_path / "masked.safetensors").symlink_to(SHIPPED / "masked.safetensors")  # without the tokenizer it names
    by_name = {r.operation: r for r in run_bench(tmp_path, runs=1, warmup=0, only="masked") if r.device == "cpu"}
    for row in ("generate (masked)", "generate (masked, path + 2 pins)"):
        assert by_name[row].median_ms is None and "needs its tokenizer" in by_name[row].note
