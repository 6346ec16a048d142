"""Where a sweep's jobs run. Every executor runs the same worker jobs (bench.runner.jobs) and appends
the same records; only the place differs.

local.py         here, one job after another (the default; what `infer-bench run` always did)
hosts.py         the machines of a Ray cluster as infer-bench sees them: names, labels, versions, selectors
remote.py        what runs on a cluster machine for one job: the usual worker subprocess, there
ray_executor.py  jobs on cluster machines, one at a time per machine, records streamed back (`run --cluster`)
"""
