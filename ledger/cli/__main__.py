"""``python -m ledger.cli``: the `medledger` command."""

import sys

from ledger.cli.app import main

sys.exit(main())
