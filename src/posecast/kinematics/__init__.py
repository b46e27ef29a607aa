"""Rotations, forward kinematics, Lie algebra and Procrustes alignment (roma and scipy underneath)."""

from posecast.kinematics.alignment import procrustes
from posecast.kinematics.fk import forward_kinematics
from posecast.kinematics.lie import hat, se3_exp, se3_log, so3_exp, so3_left_jacobian, so3_log, vee
from posecast.kinematics.rotations import (
    axis_angle_to_matrix,
    axis_angle_to_quat,
    euler_to_matrix,
    geodesic_angle,
    matrix_to_6d,
    matrix_to_axis_angle,
    matrix_to_euler,
    matrix_to_quat,
    project_to_so3,
    quat_to_axis_angle,
    quat_to_matrix,
    sixd_to_matrix,
)

__all__ = [
    "axis_angle_to_matrix",
    "axis_angle_to_quat",
    "euler_to_matrix",
    "forward_kinematics",
    "geodesic_angle",
    "hat",
    "matrix_to_6d",
    "matrix_to_axis_angle",
    "matrix_to_euler",
    "matrix_to_quat",
    "procrustes",
    "project_to_so3",
    "quat_to_axis_angle",
    "quat_to_matrix",
    "se3_exp",
    "se3_log",
    "sixd_to_matrix",
    "so3_exp",
    "so3_left_jacobian",
    "so3_log",
    "vee",
]
