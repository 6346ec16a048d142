"""The worker side: code that runs inside the child process `python -m bench.worker`.

main.py     the entry point: read the task, run it, send messages over the dedicated pipe
measure.py  the measure task: load a model, time each batch size, one record per cell
tasks.py    predict (output parity), convert, zoo_build
profile.py  profile and cold-start tasks
facts.py    the process's facts (oneDNN, devices, its runtime start), added to every record

Nothing here imports the runner side (bench.runner) or the CLI: a test walks the imports.
"""
