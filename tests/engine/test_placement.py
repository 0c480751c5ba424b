"""A take's placement: what canonicalize removes, found exactly, and put back."""
import math

import numpy as np
import pytest

from app.engine.data.bandai_namco import take_positions
from app.engine.placement import Placement, placement_of
from app.engine.skeleton import BANDAI_NAMCO_21

WALK = "dataset-2_walk_normal_001.bvh"


def test_placement_of_finds_the_turn_and_shift_that_canonicalize_removed(bandai_namco_sample):
    canonical = take_positions((bandai_namco_sample / WALK).read_text(), WALK)
    where = Placement(yaw=2.3, offset=(4.0, 0.25, -7.5))  # turned 132 degrees, 4 m aside, a quarter metre up
    placed = where.to_world(canonical)
    found_canonical, found = placement_of(placed, BANDAI_NAMCO_21)
    np.testing.assert_allclose(found_canonical, canonical, atol=1e-5)
    assert abs(found.yaw - 2.3) < 1e-5 and np.allclose(found.offset, where.offset, atol=1e-5)
    np.testing.assert_allclose(found.to_world(found_canonical), placed, atol=1e-5)


def test_a_file_take_comes_back_where_the_file_has_it(bandai_namco_sample):
    raw = take_positions((bandai_namco_sample / WALK).read_text(), WALK, canonical=False)
    canonical, placement = placement_of(raw, BANDAI_NAMCO_21)
    assert np.linalg.norm(raw[0, 0, [0, 2]]) > 5.0  # this take starts 5 m from its file's origin
    assert not placement.is_identity
    np.testing.assert_allclose(placement.to_world(canonical), raw, atol=1e-5)


def test_a_turn_about_y_turns_x_towards_minus_z():
    quarter = Placement(math.pi / 2)
    np.testing.assert_allclose(quarter.to_world(np.array([[1.0, 2.0, 0.0]])), [[0.0, 2.0, -1.0]], atol=1e-12)


def test_placements_round_trip_through_a_dict_and_refuse_non_numbers():
    where = Placement(0.5, (1.0, 2.0, 3.0))
    assert Placement.from_dict(where.to_dict()) == where and Placement().is_identity
    with pytest.raises(ValueError, match="finite"):
        Placement(float("nan"))
    with pytest.raises(ValueError, match="finite"):
        Placement(0.0, (1.0, 2.0))
