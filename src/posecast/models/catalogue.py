"""Every model PoseCast ships, one registry entry each (`posecast.models.registry`).

Adding a model is one `ModelInfo` here; its builder is a callable of this layer or a lazy
``"module:function"`` path (video and key-pose models live in higher layers and load torch,
MediaPipe... only when asked for).
"""

from __future__ import annotations

from posecast.models import baselines, learned
from posecast.models.registry import ModelInfo, register_model

MOTION_IN = ("positions",)

register_model(
    ModelInfo(
        "zero-velocity",
        "motion",
        "repeat the last observed pose",
        baselines.ZeroVelocity,
        learned=False,
    )
)
register_model(
    ModelInfo(
        "constant-velocity",
        "motion",
        "extrapolate each joint with its last velocity",
        baselines.ConstantVelocity,
        learned=False,
    )
)
register_model(
    ModelInfo(
        "nearest-neighbour",
        "motion",
        "continuation of the closest training window (PHD's baseline); needs training motions",
        baselines.NearestNeighbour,
        needs_fit=True,
        learned=False,
        distinct_samples=True,  # samples=K: the K nearest training windows
    )
)
for _name, _summary in learned.LEARNED.items():
    _default = ("motion",) if _name == learned.DEFAULT_MOTION_MODEL else ()
    register_model(ModelInfo(_name, "motion", _summary, learned.build, default_for=_default))
register_model(
    ModelInfo(
        learned.ROTATION_MODEL,
        "motion",
        "ST-Transformer rotation variant: joint rotation matrices in, SVD onto SO(3), FK out; "
        "needs a history with rotations",
        "posecast.models.st_transformer:build_rotation_variant",
        inputs=("rotations",),
    )
)
register_model(
    ModelInfo(
        "phd",
        "video",
        "PHD (Zhang et al. 2019): causal temporal encoder, latent autoregression",
        "posecast.video.models:build",
        inputs=("keypoints-2d",),
    )
)
register_model(
    ModelInfo(
        "posemonet",
        "video",
        "PoseMoNet: pose lifting + motion generation + refinement (Lie algebra)",
        "posecast.video.models:build",
        inputs=("keypoints-2d",),
    )
)
register_model(
    ModelInfo(
        "hmmr",
        "video",
        "HMMR (Kanazawa et al. 2019): temporal encoder, past/future hallucinator; works from one image",
        "posecast.video.models:build",
        inputs=("keypoints-2d", "image"),
        default_for=("image",),
    )
)
register_model(
    ModelInfo(
        "lifter",
        "video",
        "2D->3D lifter over the whole observed window (dilated temporal convolutions, VideoPose3D class); its "
        "forecast holds the last lifted pose (lift+forecast forecasts what it lifts)",
        "posecast.video.models:build",
        inputs=("keypoints-2d",),
    )
)
register_model(
    ModelInfo(
        "lift+forecast",
        "video",
        "the lifter's 3D past forecast by dct-mlp trained on lifted estimates (lifted-body-17)",
        "posecast.video.models.lift_forecast:build",
        inputs=("keypoints-2d",),
        learned=False,
        default_for=("video",),
        uses=("lifter/corpus", "dct-mlp/lifted-body-17"),
    )
)
register_model(
    ModelInfo(
        "lift+forecast+path",
        "video",
        "lift+forecast with the person's path in the image forecast too, where the person travels: the future "
        "cameras from dct-mlp's variant trained on lifted histories that carry the pelvis' motion in the camera's "
        "view (lifted-body-17-root)",
        "posecast.video.models.lift_forecast:build_path",
        inputs=("keypoints-2d",),
        learned=False,
        uses=("lifter/corpus", "dct-mlp/lifted-body-17", "dct-mlp/lifted-body-17-root"),
    )
)
register_model(
    ModelInfo(
        "charpose",
        "keypose",
        "next characteristic 3D pose on any mapped skeleton: K hypotheses with probabilities (Diller et al. 2022; "
        "heatmap draws merged with timing proposals from dct-mlp's rollout)",
        "posecast.keyposes.forecaster:build",
        outputs=("key-pose", "hypotheses"),
        stochastic=True,
    )
)
register_model(
    ModelInfo(
        "keypose-classifier",
        "classifier",
        "action class of a pose, the key-pose quality score: 4 CMU activity groups (cmu-bvh weights: locomotion, "
        "playground, dance, basketball) or the corpus's action labels (corpus weights: bow, wave, raise a hand...)",
        "posecast.keyposes.classifier:build",
        outputs=("action-class",),
    )
)
