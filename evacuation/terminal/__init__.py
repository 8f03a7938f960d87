"""What the `azevac` CLI shows a person: tables for a 100-column terminal, the sandbox, shell
completion. Rendering works on the JSON answers (the manual handler's), so a local run and a
`--via-lambda` run look the same."""
