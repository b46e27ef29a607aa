"""Characteristic key poses (Diller et al., CVPR 2022): the moments an action is most articulated.

* `mine_keyposes`: find key poses in any motion, no annotations needed (criterion in
  `posecast.keyposes.mining`).
* `posecast.keyposes.annotations`: the paper's Human3.6M and GRAB annotation files.
* `build_pairs` / `cmu_bvh_pairs`: training and evaluation pairs, observed frames -> next key pose.
* `posecast.keyposes.render`: pictures of a motion with its key poses highlighted (loads matplotlib).
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

__all__ = [
    "GrabAnnotation",
    "H36MAnnotation",
    "KeyPose",
    "KeyPosePairs",
    "articulation",
    "build_pairs",
    "cmu_bvh_pairs",
    "evaluation_starts",
    "grab_first_contact",
    "mine_keyposes",
    "read_grab_annotations",
    "read_h36m_annotations",
    "write_grab_annotations",
    "write_h36m_annotations",
]
