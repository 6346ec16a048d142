"""Reports: results records in (pandas), rendered text out. Never imports TensorFlow or infer_core."""
