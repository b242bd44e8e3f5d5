"""``python -m sigmoidlab``: the same command line as the ``sigmoidlab`` script."""

import sys

from sigmoidlab.cli import main

sys.exit(main())
