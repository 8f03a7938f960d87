"""`python -m evacuation.detection` (`make detect`): the scenario table and detection.json."""

from evacuation.detection.bench import main

raise SystemExit(main())
