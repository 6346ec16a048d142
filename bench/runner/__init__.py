"""The runner side: the parent process that starts and supervises workers. Never imports TensorFlow.

procs.py       the one process boundary: start a worker, stream its messages, contain crashes and hangs
client.py      run one model task in a worker whose environment suits the model (the Keras-flavour retry)
jobs.py        a sweep's jobs: the worker task per job, a record for every cell whatever the worker does
session.py     a whole run as a library call: start or resume, export zoo models, parity, measure
parity.py      output parity: the same inputs through every format, outputs compared
zoo_export.py  the built-in models exported once in every format, cached
"""
