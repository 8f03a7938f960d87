"""`python -m evacuation.detection` (`make detect`): the library table, the traffic matrix,
benchmarks/detection.json and benchmarks/detection.png."""

from evacuation.detection.matrix import main

raise SystemExit(main())
