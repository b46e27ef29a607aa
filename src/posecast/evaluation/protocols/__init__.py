"""Benchmark protocols: each module owns one benchmark's conventions (windows, joints, units, labels,
averaging) and prints them with every table; the data come from `posecast.datasets`.

* `cmu_mocap`: the CMU-Mocap motion-prediction benchmark (LTD / MSR-GCN / PGBIG), positions or
  rotations (`cmu_mocap.evaluate_rotations`);
* `cmu_bvh`: forecasting on the raw CMU BVH test subjects in real units;
* `corpus`: the cross-data-set benchmark on the test part of every data set (CMU BVH, Bandai Namco,
  HDM05), each on its own skeleton, with bootstrap intervals;
* `long_horizon`: long rollouts judged by their power spectrum;
* `video`: the video models on virtually filmed CMU test motions and on real clips, and the video
  models' model-card numbers;
* `video_backend`: the pose backend on the shared clips (detection, bone stability, speed, agreement
  with Google's reference);
* `keyposes`: characteristic key-pose forecasting, baselines and ablations.
"""
