"""Serving load inside the worker: load points (single_stream, server, concurrency, offline) on the loaded model.

Pure parts take an injected clock and are tested with a fake one: `schedule` (Poisson arrivals),
`batcher` (TF Serving-style batch queue), `validity` (LoadGen-style validity and early stopping),
`search` (capacity search). `engine` runs a load point with real threads on the executors of `pools` (whose
waits and cut-offs use the same injected clock); `cell` turns one into a cell record inside the measuring worker;
`task` is the worker's capacity-search task.
Settings live in bench.load_settings (light; the parent imports them too).
"""
