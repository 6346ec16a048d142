"""What a run leaves on disk, and what it is compared against (parent side).

store.py        the run directory: append-only, fsync'd results.jsonl; resume
baselines.py    named baselines with checksums
fingerprint.py  the environment a run was measured in (run header)
"""
