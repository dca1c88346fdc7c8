"""The runtime around SpiffWorkflow: registry, runtime, persistence, audit, clock.

`web/` talks to `Runtime` and `Registry` only; nothing outside this package
touches SpiffWorkflow objects.
"""
