"""Keypoint layouts of 2D/3D pose detectors: ``blazepose-33`` (MediaPipe Pose) and ``coco-17`` (COCO).

Both keep the detector's **official landmark order** (detector output arrays arrive in that order
and are used as-is), so the root is the nose (index 0), the only joint from which a tree with
parents before children can be hung over the official order. They have no kinematic model
(``offsets=None``); the parents form a *drawing tree* for rendering bones and checking bone lengths.

* ``coco-17``: the 17 keypoints of the COCO keypoint task (Lin et al. 2014) in annotation order. The
  tree uses only edges of COCO's own ``skeleton`` list: nose → eyes → ears → shoulders (COCO links
  each ear to the shoulder on its side), shoulder → elbow → wrist, shoulder → hip → knee → ankle.
* ``blazepose-33``: the 33 landmarks of MediaPipe Pose / BlazePose (Bazarevsky et al. 2020) in
  MediaPipe's ``PoseLandmark`` order. The tree uses MediaPipe's ``POSE_CONNECTIONS`` where they form
  one: nose → inner eye → eye → outer eye → ear, shoulder → elbow → wrist → pinky / index / thumb,
  shoulder → hip → knee → ankle → heel / foot index. MediaPipe draws the face apart from the body;
  three extra edges join them: nose → each mouth corner and ear → shoulder (as in COCO).

Left and right are the subject's (``left_wrist`` is the subject's left wrist). Positions are
whatever the producer gives (pixels or metres); PoseCast's 3D convention (metres, y up, facing +z,
left at +x) applies once a video backend has lifted and converted them.
"""

from __future__ import annotations

from posecast.skeletons.base import Skeleton, pairs_by_prefix, register

COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

COCO17_PARENTS = (-1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14)

BLAZEPOSE33_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip

BLAZEPOSE33_PARENTS = (
    -1,          # 0 nose
    0, 1, 2,     # left eye inner, eye, outer
    0, 4, 5,     # right eye inner, eye, outer
    3, 6,        # ears hang from the outer eye corners
    0, 0,        # mouth corners
    7, 8,        # shoulders hang from the ears
    11, 12,      # elbows
    13, 14,      # wrists
    15, 16,      # pinkies
    15, 16,      # index fingers
    15, 16,      # thumbs
    11, 12,      # hips
    23, 24,      # knees
    25, 26,      # ankles
    27, 28,      # heels
    27, 28,      # foot index (toes)
)  # fmt: skip


def _mirror_pairs(names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    pairs = list(pairs_by_prefix(names, "left_", "right_"))
    if "mouth_left" in names:
        pairs.append((names.index("mouth_left"), names.index("mouth_right")))
    return tuple(pairs)


@register("coco-17", "coco")
def coco_17() -> Skeleton:
    names = COCO17_NAMES
    return Skeleton(
        name="coco-17",
        joint_names=names,
        parents=COCO17_PARENTS,
        offsets=None,
        left_right=_mirror_pairs(names),
        end_effectors=tuple(names.index(n) for n in ("nose", "left_wrist", "right_wrist", "left_ankle", "right_ankle")),
        description="COCO keypoints (17, official annotation order, nose = root); drawing tree from COCO's "
        "skeleton edges; no rest offsets",
    )


@register("blazepose-33", "blazepose", "mediapipe-pose")
def blazepose_33() -> Skeleton:
    names = BLAZEPOSE33_NAMES
    return Skeleton(
        name="blazepose-33",
        joint_names=names,
        parents=BLAZEPOSE33_PARENTS,
        offsets=None,
        left_right=_mirror_pairs(names),
        end_effectors=tuple(
            names.index(n) for n in ("nose", "left_wrist", "right_wrist", "left_foot_index", "right_foot_index")
        ),
        description="MediaPipe Pose / BlazePose landmarks (33, official PoseLandmark order, nose = root); drawing "
        "tree from MediaPipe's POSE_CONNECTIONS plus nose-mouth and ear-shoulder edges; no rest offsets",
    )
