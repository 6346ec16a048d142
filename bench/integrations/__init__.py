"""infer-bench inside other tools: the pytest plugin, and pytest-benchmark JSON imported as a run."""
