"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json."""

_ERROR = {"type": "object", "properties": {
    "error": {"type": "string"},
    "fields": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
               "description": "messages by field path into the request body or the task's data, e.g. data/score"},
}, "required": ["error"]}
_FINDING = {
    "type": "object",
    "properties": {
        "file": {"type": "string"}, "line": {"type": ["integer", "null"]},
        "element": {"type": ["string", "null"]}, "message": {"type": "string"},
        "severity": {"enum": ["error", "warning"]},
    },
}
_TASK = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"}, "instance": {"type": "integer"},
        "process": {"type": "string"}, "element": {"type": "string"}, "name": {"type": ["string", "null"]},
        "lane": {"type": ["string", "null"]}, "role": {"type": ["string", "null"]},
        "jurisdiction": {"type": ["string", "null"]}, "assignee": {"type": ["string", "null"]},
        "subject": {"type": ["string", "null"], "description":
                    "which of the case's items the task is about (the candidate an expert reviews)"},
        "form": {"type": ["object", "null"], "description":
                 "the task's JSON Schema: in a case's own answer always; in a list only with ?expand=form "
                 "(else null: fetch it once from form_url)"},
        "form_name": {"type": ["string", "null"]},
        "form_url": {"type": ["string", "null"], "description":
                     "where the form's JSON Schema is, per model version: the same for every task of that form "
                     "and version, and never changes (cache it)"},
        "created": {"type": "string", "format": "date-time"},
        "due": {"type": ["string", "null"], "format": "date-time"}, "overdue": {"type": "boolean"},
        "due_provisional": {"type": "boolean"},
    },
}
_INSTANCE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"}, "process": {"type": "string"},
        "version": {"type": "string", "description": "content hash of the model version the case runs on"},
        "status": {"enum": ["running", "waiting", "completed", "error", "cancelled"],
                   "description": "running: human tasks are open; waiting: only a timer or message can move it"},
        "jurisdiction": {"type": ["string", "null"]}, "started_by": {"type": ["string", "null"]},
        "data": {"type": "object"}, "tasks": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}},
        "error": {"type": ["object", "null"]}, "next_timer": {"type": ["string", "null"]},
        "created": {"type": "string"}, "updated": {"type": "string"}, "revision": {"type": "integer"},
    },
}

# The query parameters every list takes. Lists page by keyset: `next` in the answer (also in a
# `Link: <…>; rel="next"` header) is the cursor to send as `after` for the following page.
_PAGING = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}},
    {"name": "after", "in": "query", "schema": {"type": "string"},
     "description": "the `next` cursor of the previous page (opaque); absent for the first page"},
    {"name": "offset", "in": "query", "deprecated": True, "schema": {"type": "integer", "minimum": 0},
     "description": "skip rows (costs more the further it goes; use `after`); not with `after`"},
]
_EXPAND = {"name": "expand", "in": "query", "schema": {"enum": ["form"]},
           "description": "form: include each task's JSON Schema in `form`"}


def _listing(name: str, item: dict) -> dict:
    return {"200": {"description": name, "content": {"application/json": {"schema": {
        "type": "object", "required": [name, "next"], "properties": {
            name: {"type": "array", "items": item},
            "next": {"type": ["string", "null"], "description": "cursor of the next page (send as `after`); "
                                                                 "null on the last page"}}}}}}}


_REASON = {
    "type": "object",
    "properties": {
        "code": {"enum": ["removed_waiting", "removed_history", "changed_in_progress", "subprocess_removed",
                          "unplanned", "unaligned", "case_failed", "finished", "same_version", "other_version", "other_process",
                          "missing", "conflict", "error"]},
        "element": {"type": ["string", "null"], "description": "the diagram element the reason is about"},
        "name": {"type": ["string", "null"]}, "detail": {"type": ["string", "null"]},
        "message": {"type": "string"},
    },
}
_MIGRATION_REPORT = {
    "type": "object",
    "properties": {
        "process": {"type": "string"}, "from": {"type": "string"}, "to": {"type": "string"},
        "dry_run": {"type": "boolean"},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "cases": {"type": "array", "items": {"type": "object", "properties": {
            "instance": {"type": "integer"},
            "outcome": {"enum": ["movable", "migrated", "blocked", "skipped", "failed"],
                        "description": "movable (dry run) / migrated: it moves; blocked: it cannot and stays; "
                                       "skipped: not this migration's case; failed: the move was rolled back"},
            "status": {"type": ["string", "null"]}, "version": {"type": ["string", "null"]},
            "jurisdiction": {"type": ["string", "null"]},
            "waiting_at": {"type": "array", "items": {"type": "object", "properties": {
                "element": {"type": "string"}, "name": {"type": ["string", "null"]}}}},
            "reasons": {"type": "array", "items": {"$ref": "#/components/schemas/MigrationReason"}}}}},
    },
}


def _json(schema_ref):
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}}


def _answers(ok: dict, *errors: int) -> dict:
    out = dict(ok)
    texts = {400: "bad request (a JSON body nested deeper than 64 levels is one)",
             401: "no token, or one that is unknown, revoked, expired or of a deactivated account",
             403: "not allowed for this user", 404: "not found, or not visible to this user",
             409: "conflict: no longer ready, or another action won", 413: "upload too large",
             422: "invalid data or model; NaN, Infinity and text that cannot be encoded are refused, named in fields"}
    for code in errors:
        out[str(code)] = {"description": texts[code], **_json("Error")}
    return out


OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "Green Ladder API", "version": "1",
             "description": "Deploy BPMN/DMN models, start cases, work human tasks (绿色制造梯度培育)."},
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {"Error": _ERROR, "Finding": _FINDING, "Task": _TASK, "Instance": _INSTANCE,
                    "MigrationReason": _REASON, "MigrationReport": _MIGRATION_REPORT},
    },
    "paths": {
        "/models": {"post": {
            "summary": "Deploy one or more BPMN/DMN files (and forms) as one immutable version",
            "requestBody": {"content": {"multipart/form-data": {"schema": {"type": "object", "properties": {
                "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                "note": {"type": "string"}}}}}},
            "responses": _answers({
                "201": {"description": "deployed", "content": {"application/json": {"schema": {"type": "object", "properties": {
                    "version": {"type": "string"}, "processes": {"type": "array", "items": {"type": "string"}},
                    "warnings": {"type": "array", "items": {"$ref": "#/components/schemas/Finding"}}}}}}},
                "200": {"description": "this content was deployed before; nothing changed"},
                "422": {"description": "the files are invalid", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"errors": {"type": "array", "items": {"$ref": "#/components/schemas/Finding"}}}}}}},
            }, 400, 401, 403, 413),
        }},
        "/instances": {
            "post": {
                "summary": "Start a case of the latest deployed version of a process",
                "requestBody": {"content": {"application/json": {"schema": {"type": "object", "required": ["process"],
                    "properties": {"process": {"type": "string"}, "data": {"type": "object",
                        "description": "initial data; data.jurisdiction (a division code) scopes the case"}}}}}},
                "responses": _answers({"201": {"description": "started", **_json("Instance")}}, 400, 401, 403, 404, 422),
            },
            "get": {
                "summary": "Cases visible to the caller; personal data (x-personal) masked for everyone in a list",
                "parameters": [*({"name": n, "in": "query", "schema": {"type": t}} for n, t in
                                 (("status", "string"), ("process", "string"))), *_PAGING, _EXPAND],
                "responses": _answers(_listing("instances", {"$ref": "#/components/schemas/Instance"}), 400, 401),
            },
        },
        "/cases": {"get": {
            "summary": "The case search (an official: the cases they may see, a city its own) or, for an "
                       "organisation's account, its own organisation's cases; each with the steps it waits on",
            "parameters": [*({"name": n, "in": "query", "schema": {"type": t}} for n, t in
                             (("company", "string"), ("credit_code", "string"), ("number", "integer"),
                              ("process", "string"), ("status", "string"), ("city", "string"),
                              ("since", "string"), ("until", "string"))),
                           {"name": "sort", "in": "query", "schema": {"type": "string", "enum": [
                               "-number", "number", "company", "-company", "updated", "-updated"]}}, *_PAGING[:2]],
            "responses": _answers(_listing("cases", {"type": "object"}), 400, 401, 403),
        }},
        "/instances/{id}": {"get": {
            "summary": "A case, with the human tasks it waits on; its personal data unmasked only for the "
                       "authority handling it (its city, the province), and that read audited",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": _answers({"200": {"description": "the case", **_json("Instance")}}, 401, 404),
        }},
        "/instances/{id}/file": {"get": {
            "summary": "The case file (卷宗) as the case page shows it to the caller: sections (candidate, organisation, "
                       "application, evaluation, attachments, art18, opinions), each field under its form's title; "
                       "personal data as for the case",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": _answers({"200": {"description": "the case file", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"instance": {"type": "integer"}, "sections": {
                    "type": "array", "items": {"type": "object", "required": ["section"],
                                               "properties": {"section": {"type": "string"}}}}}}}}}}, 401, 404),
        }},
        "/instances/{id}/cancel": {"post": {
            "summary": "Cancel a case (administrator or the case's starter)",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": _answers({"200": {"description": "cancelled", **_json("Instance")}}, 401, 403, 404, 409),
        }},
        "/instances/{id}/withdraw": {"post": {
            "summary": "Withdraw one's own application before the city decides, with the reason (the applicant)",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}}}}},
            "responses": _answers({"200": {"description": "withdrawn", **_json("Instance")}},
                                  401, 403, 404, 409, 422),
        }},
        "/instances/{id}/end": {"post": {
            "summary": "End a stalled case with the reason (an official of its city, or the province)",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}}}}},
            "responses": _answers({"200": {"description": "ended", **_json("Instance")}}, 401, 403, 404, 409, 422),
        }},
        "/instances/{id}/retry": {"post": {
            "summary": "Run a case in error again from where it failed (administrator), optionally with its "
                       "data corrected first; a correction needs its reason (both audited)",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
                "data": {"type": "object"}, "reason": {"type": "string"}}}}}},
            "responses": _answers({"200": {"description": "retried", **_json("Instance")}}, 401, 403, 404, 409, 422),
        }},
        "/instances/{id}/messages": {"post": {
            "summary": "Deliver a BPMN message (e.g. an incident report) into a case",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object", "required": ["name"],
                "properties": {"name": {"type": "string"}, "payload": {"type": "object"}}}}}},
            "responses": _answers({"200": {"description": "delivered", **_json("Instance")}}, 400, 401, 404, 409),
        }},
        "/tasks": {"get": {
            "summary": "Ready human tasks the caller may act on, soonest due first",
            "parameters": [*({"name": n, "in": "query", "schema": {"type": t}} for n, t in
                             (("instance", "integer"), ("process", "string"), ("role", "string"),
                              ("overdue", "boolean"))), *_PAGING, _EXPAND],
            "responses": _answers(_listing("tasks", {"$ref": "#/components/schemas/Task"}), 400, 401),
        }},
        "/models/{version}/forms/{name}": {"get": {
            "summary": "A form's JSON Schema as deployed in a model version (a task's form_url); immutable",
            "parameters": [{"name": "version", "in": "path", "required": True, "schema": {"type": "string"}},
                           {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": _answers({"200": {"description": "the JSON Schema", "content": {
                "application/json": {"schema": {"type": "object"}}}}}, 401, 404),
        }},
        "/notifications": {"get": {
            "summary": "The caller's notifications (reminders, overdue notices, hand-overs, returns, decisions), newest first",
            "parameters": [{"name": "unread", "in": "query", "schema": {"type": "boolean"}}, *_PAGING],
            "responses": _answers(_listing("notifications", {"type": "object"}), 400, 401),
        }},
        "/notifications/{id}/read": {"post": {
            "summary": "Mark a notification read for the caller (a colleague's stays unread)",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": _answers({"200": {"description": "marked"}}, 401, 404),
        }},
        "/clock": {
            "get": {"summary": "The virtual clock (administrator; 404 unless CLOCK=virtual)",
                    "responses": _answers({"200": {"description": "now"}}, 401, 403, 404)},
            "post": {
                "summary": "Move the virtual clock forward; every timer due on the way fires, in order",
                "requestBody": {"content": {"application/json": {"schema": {"type": "object", "properties": {
                    "advance": {"type": "string", "description": "ISO 8601 duration, e.g. P30D"},
                    "to": {"type": "string", "format": "date-time"}}}}}},
                "responses": _answers({"200": {"description": "the new time and what fired"}}, 400, 401, 403, 404, 422),
            },
        },
        "/processes/{id}/migration": {
            "get": {
                "summary": "Dry run of moving running cases between two versions of a process (analyst): "
                           "case by case, whether it can move and why not; nothing changes",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"},
                     "description": "the process id"},
                    {"name": "from", "in": "query", "required": True, "schema": {"type": "string"},
                     "description": "the version the cases run on"},
                    {"name": "to", "in": "query", "required": True, "schema": {"type": "string"},
                     "description": "the version to move them to"},
                    {"name": "instance", "in": "query", "schema": {"type": "array", "items": {"type": "integer"}},
                     "description": "only these cases (default: every running case of the source version)"},
                ],
                "responses": _answers({"200": {"description": "the dry run", **_json("MigrationReport")}},
                                      400, 401, 403, 404),
            },
            "post": {
                "summary": "Move running cases to another version (analyst); each case all or nothing, "
                           "with its inbox, timers and a 'migrate' audit event",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"},
                     "description": "the process id"}],
                "requestBody": {"content": {"application/json": {"schema": {
                    "type": "object", "required": ["from", "to"], "properties": {
                        "from": {"type": "string"}, "to": {"type": "string"},
                        "instances": {"type": "array", "items": {"type": "integer"},
                                      "description": "only these cases (default: every running case of 'from')"}}}}}},
                "responses": _answers({"200": {"description": "what happened to each case",
                                               **_json("MigrationReport")}}, 400, 401, 403, 404),
            },
        },
        "/tasks/{id}/attachments": {"post": {
            "summary": "Hand in a file for a file field of the task's form; its id goes into that field",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"content": {"multipart/form-data": {"schema": {"type": "object", "required": ["field", "file"],
                "properties": {"field": {"type": "string"}, "file": {"type": "string", "format": "binary"}}}}}},
            "responses": _answers({"201": {"description": "stored: id, name, content_type, size, sha256"}},
                                  401, 404, 413, 422),
        }},
        "/tasks/{id}/complete": {"post": {
            "summary": "Complete a task with data checked against its form",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object",
                "properties": {"data": {"type": "object"}}}}}},
            "responses": _answers({"200": {"description": "the case after the step", **_json("Instance")}},
                                  400, 401, 404, 409, 422),
        }},
        "/tasks/{id}/comments": {"post": {
            "summary": "Comment on a waiting task (批注), kept in its case's history; by anyone who may see the case",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object", "required": ["text"],
                "properties": {"text": {"type": "string", "maxLength": 2000}}}}}},
            "responses": _answers({"201": {"description": "kept: the task and the text"}}, 400, 401, 404, 422),
        }},
    },
}
