import sys

from finance_recon.cli import main

sys.exit(main())
