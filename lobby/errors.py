"""The game's error type: one status, one machine code, one human message."""


class GameError(Exception):
    """An action refused for a reason the client can act on."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def as_json(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


def bad_request(code: str, message: str) -> GameError:
    return GameError(400, code, message)


def conflict(code: str, message: str) -> GameError:
    return GameError(409, code, message)
