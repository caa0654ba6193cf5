"""Quality gates: Great Expectations suites as code, the blocking asset checks that run them, the
platform freshness policy and the source-lag checks.

Nothing here imports Great Expectations at module load (it costs seconds and ~300 MB): the GX
objects are built inside the check functions, by `finance_recon.quality.gx_runner`.
"""
