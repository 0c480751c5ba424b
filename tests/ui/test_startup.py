"""A real start of the studio in a new process: the splash shows before the window, the window before the models
finish loading in the background (what `kinema bench --startup` reports)."""
import pytest

from app.ui.bench import bench_startup


@pytest.mark.slow
def test_a_new_studio_process_shows_splash_then_window_then_loads_models():
    result = bench_startup(runs=1)
    assert 0 < result["splash_first_s"] < result["window_first_s"] <= result["models_first_s"]
    assert result["models_first_s"] < 300
