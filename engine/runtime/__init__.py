"""Running instances (流程运行): the runtime around SpiffWorkflow.

Split along its seams: `step` (one transaction per step, revision-checked, and
the cache of live workflows), `operations` (start, complete, assign, cancel,
retry, timers, messages: the `Runtime` callers hold), `sync` (the inbox and
timer index written with each step). Who acts lives in `engine.actors`. What
callers import stays importable from here.
"""
from ..actors import SYSTEM, Actor, addressed_to, may_act, role_queue
from .operations import ACTIVE, PARTY_ACCOUNT, START_DATA_PROPERTY, START_ROLES_PROPERTY, Runtime
from .step import Unchanged

__all__ = ["ACTIVE", "PARTY_ACCOUNT", "START_DATA_PROPERTY", "START_ROLES_PROPERTY", "SYSTEM", "Actor", "Runtime",
           "Unchanged", "addressed_to", "may_act", "role_queue"]
