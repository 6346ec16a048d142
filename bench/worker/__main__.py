"""`python -m bench.worker --fd N`: see bench.worker.main."""

import sys

from bench.worker.main import main

sys.exit(main())
