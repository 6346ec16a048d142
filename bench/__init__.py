"""The harness: scenarios, sweeps, worker processes, results store, CLI. Never imports TensorFlow here."""
