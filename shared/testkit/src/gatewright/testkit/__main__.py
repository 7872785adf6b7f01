"""`python -m gatewright.testkit`: run the local stack in the foreground (see `stack.main`)."""

import sys

from gatewright.testkit.stack import main

sys.exit(main())
