import numpy as np
import pytest

from app.engine.features import FeatureLayout
from app.engine.models.body_parts import body_part_dims
from app.engine.skeleton import BANDAI_NAMCO_21, SMPL_22


@pytest.mark.parametrize("skeleton", [BANDAI_NAMCO_21, SMPL_22])
def test_parts_partition_all_feature_dims(skeleton):
    upper = body_part_dims(skeleton.n_joints, skeleton, "upper")
    lower = body_part_dims(skeleton.n_joints, skeleton, "lower")
    assert not np.intersect1d(upper, lower).size
    np.testing.assert_array_equal(np.sort(np.concatenate([upper, lower])), np.arange(skeleton.feature_dim))


def test_lower_body_owns_root_lower_joints_and_contacts():
    layout = FeatureLayout(21)
    lower = set(body_part_dims(21, BANDAI_NAMCO_21, "lower").tolist())
    upper = set(body_part_dims(21, BANDAI_NAMCO_21, "upper").tolist())
    assert set(range(4)) <= lower and set(range(layout.contacts.start, layout.contacts.stop)) <= lower
    assert set(range(layout.vel.start, layout.vel.start + 3)) <= lower  # the root joint's velocity
    knee = 14  # LeftLeg-ish: a lower-body joint of BANDAI_NAMCO_21
    assert knee in BANDAI_NAMCO_21.lower_body
    assert set(range(layout.ric.start + 3 * (knee - 1), layout.ric.start + 3 * knee)) <= lower
    hand = 8
    assert hand in BANDAI_NAMCO_21.upper_body
    assert set(range(layout.rot.start + 6 * (hand - 1), layout.rot.start + 6 * hand)) <= upper
    assert len(upper) == 12 * 12 and len(lower) == 251 - 144  # 12 upper joints x (3 ric + 6 rot + 3 vel)


def test_unknown_part_or_wrong_joint_count():
    with pytest.raises(ValueError, match="body part"):
        body_part_dims(21, BANDAI_NAMCO_21, "left")
    with pytest.raises(ValueError, match="joints"):
        body_part_dims(22, BANDAI_NAMCO_21, "upper")
