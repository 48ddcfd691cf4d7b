"""`python -m waitbus_bridge_nats ...`: the same as the `waitbus-bridge-nats` script."""

from . import main

raise SystemExit(main())
