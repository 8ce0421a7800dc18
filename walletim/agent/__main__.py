"""``python -m walletim.agent``: the agent process (:func:`walletim.agent.daemon.main`)."""

import sys

from walletim.agent.daemon import main

sys.exit(main())
