"""What the engine refuses, as exceptions the web layer maps to HTTP answers."""


class EngineError(Exception):
    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(EngineError):
    status = 404


class Forbidden(EngineError):
    status = 403


class Conflict(EngineError):
    """The task is no longer ready, or another step on the instance won."""

    status = 409


class FormInvalid(EngineError):
    status = 422

    def __init__(self, fields: dict[str, list[str]]):
        super().__init__("the submitted data does not match the task's form")
        self.fields = fields
