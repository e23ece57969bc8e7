"""The read-only dashboard: one page (`/`) and the JSON it polls, made from what `status`,
`/metrics`, `schedule`, `check` and `report` use, in the process that serves HTTP."""
