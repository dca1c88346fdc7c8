"""Every service operation the domain offers the diagrams (`serviceTaskOperator id=...`), and
the case file sections a task may name (`caseFileSections`), registered in one call: the app
factory makes it, and so does anything that checks or runs the shipped diagrams without the
app (a model check in a test, a benchmark)."""
from __future__ import annotations

from . import awards, case_file, cultivation, designations, evaluation, experts, lifecycle, national, notices, selection


def register() -> None:
    designations.register()
    notices.register()
    selection.register()
    lifecycle.register()
    cultivation.register()
    national.register()
    awards.register()
    evaluation.register()
    experts.register()
    case_file.register()
