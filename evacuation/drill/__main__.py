"""`python -m evacuation.drill`."""

from evacuation.drill.cli import main

raise SystemExit(main())
