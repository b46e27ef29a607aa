"""Characteristic key poses (Diller et al., CVPR 2022): the moments an action is most articulated.

* `mine_keyposes`: find key poses in any motion, no annotations needed (criterion in
  `posecast.keyposes.mining`).
* `posecast.keyposes.annotations`: the paper's Human3.6M and GRAB annotation files.
* `build_pairs` / `cmu_bvh_pairs`: training and evaluation pairs, observed frames -> next key pose.
* `posecast.keyposes.render`: pictures of a motion with its key poses highlighted (loads matplotlib).
* The forecasting model (loads torch on first use): `CharPoseConfig` / `CharPoseNet` /
  `charpose_loss` (`posecast.keyposes.model`), `sample_hypotheses` / `predict_keyposes` /
  `Hypotheses` (`.sampling`), `refine_poses` / `RefineConfig` (`.refine`), `save_charpose` /
  `load_charpose`; its training is the training loop's key-pose plug-in (`posecast.training.keyposes`,
  ``posecast train --model charpose``).
* `posecast.keyposes.classifier`: the pose classifier behind the inception-style quality score of
  the `posecast bench keyposes` protocol (`posecast.evaluation.protocols.keyposes`: baselines and
  ablations).
"""

from posecast.keyposes.annotations import (
    GrabAnnotation,
    H36MAnnotation,
    grab_first_contact,
    read_grab_annotations,
    read_h36m_annotations,
    write_grab_annotations,
    write_h36m_annotations,
)
from posecast.keyposes.dataset import KeyPosePairs, build_pairs, cmu_bvh_pairs, evaluation_starts
from posecast.keyposes.mining import KeyPose, articulation, mine_keyposes

#: names served lazily (their modules import torch)
_LAZY = {
    "CharPoseConfig": "posecast.keyposes.model",
    "CharPoseNet": "posecast.keyposes.model",
    "charpose_loss": "posecast.keyposes.model",
    "save_charpose": "posecast.keyposes.model",
    "load_charpose": "posecast.keyposes.model",
    "Hypotheses": "posecast.keyposes.sampling",
    "sample_hypotheses": "posecast.keyposes.sampling",
    "refine_hypotheses": "posecast.keyposes.sampling",
    "predict_keyposes": "posecast.keyposes.sampling",
    "RefineConfig": "posecast.keyposes.refine",
    "refine_poses": "posecast.keyposes.refine",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'posecast.keyposes' has no attribute {name!r}")


__all__ = [
    "CharPoseConfig",
    "CharPoseNet",
    "GrabAnnotation",
    "H36MAnnotation",
    "Hypotheses",
    "KeyPose",
    "KeyPosePairs",
    "RefineConfig",
    "articulation",
    "build_pairs",
    "charpose_loss",
    "cmu_bvh_pairs",
    "evaluation_starts",
    "grab_first_contact",
    "load_charpose",
    "mine_keyposes",
    "predict_keyposes",
    "read_grab_annotations",
    "read_h36m_annotations",
    "refine_hypotheses",
    "refine_poses",
    "sample_hypotheses",
    "save_charpose",
    "write_grab_annotations",
    "write_h36m_annotations",
]
