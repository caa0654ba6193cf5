"""`python -m finance_recon.metrics serve [--host] [--port]`: the exporter without the full CLI."""

import sys

from finance_recon.metrics.server import main

sys.exit(main())
