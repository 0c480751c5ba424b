"""A motion as the engine's operations return it: un-normalised HumanML3D-style features at a frame rate."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.engine.features import positions_from_features
from app.engine.skeleton import Skeleton, skeleton_by_name


@dataclass
class Motion:
    features: np.ndarray  # (T, D) float32, not normalised
    fps: float = 20.0
    skeleton_name: str = "bandai-namco21"

    @property
    def n_frames(self) -> int:
        return int(self.features.shape[0])

    @property
    def skeleton(self) -> Skeleton:
        return skeleton_by_name(self.skeleton_name)

    @property
    def positions(self) -> np.ndarray:
        """Joint positions (T, J, 3) recovered from the features."""
        return positions_from_features(self.features, self.skeleton.n_joints)
