"""`make bench`: azevac's time to mitigate at fleet scale, against the lower bound and a
sequential baseline. See benchmarks/README section in the project README."""
