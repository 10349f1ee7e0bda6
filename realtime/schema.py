"""The vocabulary of the typed message table: JSON Schema values and fields.

Every WebSocket message (realtime.protocol's own, the platform's events in
lobby.events, each game's events and action messages) is declared once as a
`Message` made of `Field`s. The servers check what they send and receive
against those declarations (`missing`, `problem`, `Validator`), and the
published contracts are generated from the very same objects: the JSON
Schema of each message, the AsyncAPI document (/api/asyncapi.json), the
TypeScript declarations (realtime.typescript: the transport's;
lobby.typescript: the platform's and games') and the tables of
docs/protocol.md (lobby.contracts).

Schemas are JSON Schema 2020-12 dicts built with the few constructors below,
so every generator (TypeScript included) only meets this small vocabulary.
Validation is the `jsonschema` library's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator, validators

# --- schema constructors -------------------------------------------------------------


def integer(minimum: int | None = None, maximum: int | None = None) -> dict:
    schema: dict[str, Any] = {"type": "integer"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def number() -> dict:
    return {"type": "number"}


def string(min_length: int | None = None, max_length: int | None = None, pattern: str = "") -> dict:
    schema: dict[str, Any] = {"type": "string"}
    if min_length is not None:
        schema["minLength"] = min_length
    if max_length is not None:
        schema["maxLength"] = max_length
    if pattern:
        schema["pattern"] = pattern
    return schema


def boolean() -> dict:
    return {"type": "boolean"}


def null() -> dict:
    return {"type": "null"}


def enum(*values: Any) -> dict:
    """One of `values` (strings, numbers, booleans or null)."""
    return {"enum": list(values)}


def const(value: Any) -> dict:
    return {"const": value}


def nullable(schema: dict) -> dict:
    """`schema` or null."""
    return {"anyOf": [schema, null()]}


def one_of(*schemas: dict) -> dict:
    return {"anyOf": list(schemas)}


def all_of(*schemas: dict) -> dict:
    """Every one of `schemas` at once."""
    return {"allOf": list(schemas)}


def array(items: dict) -> dict:
    return {"type": "array", "items": items}


def any_value() -> dict:
    """Any JSON value."""
    return {}


def obj(*fields: Field, open: bool = True, title: str = "") -> dict:
    """An object of `fields`; `open`: other keys may come too (clients ignore them);
    `title`: the name of a shape used in several places (e.g. "PlayerRef"),
    which generated code declares once."""
    schema: dict[str, Any] = {"type": "object"}
    if title:
        schema["title"] = title
    schema["properties"] = {f.name: f.described() for f in fields}
    required = [f.name for f in fields if f.required]
    if required:
        schema["required"] = required
    if not open:
        schema["additionalProperties"] = False
    return schema


def map_of(values: dict) -> dict:
    """An object whose keys are free and whose values are `values`."""
    return {"type": "object", "additionalProperties": values}


# --- fields and messages ---------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One field of a message or payload: its name, its value's schema, and
    whether it is always there. `what` says in words what the value must be
    ("a whole number"), for the error a malformed value gets; `doc` is the
    one line of the tables in docs/protocol.md."""

    name: str
    schema: dict
    required: bool = True
    doc: str = ""
    what: str = ""

    def described(self) -> dict:
        return {**self.schema, "description": self.doc} if self.doc else dict(self.schema)

    def must_be(self) -> str:
        """The error text for a bad value: 'text' must be a string."""
        return f"'{self.name}' must be {self.what or words(self.schema)}."


def words(schema: dict) -> str:
    """A value's schema in words (for error messages)."""
    kind = schema.get("type")
    if "enum" in schema:
        return "one of " + " ".join(str(v) for v in schema["enum"])
    if kind == "integer":
        low = schema.get("minimum")
        return "a whole number" + (f", {low} or more" if low is not None else "")
    if kind == "boolean":
        return "true or false"
    if kind == "string":
        return "a string"
    if kind == "array":
        return "a list"
    if kind == "object":
        return "an object"
    if "anyOf" in schema:
        return " or ".join(words(s) for s in schema["anyOf"])
    return "a JSON value"


@dataclass(frozen=True)
class Message:
    """One WebSocket message type: `{"type": <type>, ...}`.

    `fields` are the message's own keys beside `type` (for events: `seq` or
    `pseq` and `payload`, whose fields are `payload`). `owner` is who
    declares it (the transport, the platform "partyhub", or a game);
    `direction` "send" (server to client) or "receive" (client to server);
    `private`: to one player's sockets only; `after`: when it is sent (the
    tables' "sent after" column).
    """

    type: str
    owner: str
    direction: str
    fields: tuple[Field, ...] = ()
    payload: tuple[Field, ...] | None = None
    private: bool = False
    doc: str = ""
    after: str = ""
    # {"payload_schema": ...}: a payload that is not one object of `payload`
    # (e.g. one object per game).
    extra: dict = field(default_factory=dict)

    @property
    def is_event(self) -> bool:
        return self.payload is not None

    def payload_schema(self) -> dict:
        return self.extra.get("payload_schema") or obj(*(self.payload or ()))

    def schema(self) -> dict:
        """The whole message's JSON Schema."""
        own = [Field("type", const(self.type))]
        own += list(self.fields)
        if self.payload is not None:
            own.append(Field("payload", self.payload_schema()))
        schema = obj(*own)
        schema["title"] = self.type
        if self.doc:
            schema["description"] = self.doc
        return schema


def missing(fields: tuple[Field, ...], data: dict) -> list[str]:
    """The required fields absent from `data`."""
    return [f.name for f in fields if f.required and f.name not in data]


def problem(fields: tuple[Field, ...], data: dict) -> Field | None:
    """The first field of `data` that breaks its schema (or is missing), or None."""
    for f in fields:
        if f.name not in data:
            if f.required:
                return f
            continue
        if not validator(f.schema).is_valid(data[f.name]):
            return f
    return None


def _whole(checker, value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# JSON Schema counts 1.0 as an integer; the servers take whole numbers
# written as such only (as Python's isinstance(value, int) always did).
Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _whole),
)
_validators: dict[int, tuple[dict, Draft202012Validator]] = {}


def validator(schema: dict) -> Draft202012Validator:
    """A compiled validator of `schema` (kept per schema object: tables are static)."""
    kept = _validators.get(id(schema))
    if kept is None or kept[0] is not schema:
        kept = (schema, Validator(schema))
        _validators[id(schema)] = kept
    return kept[1]


def errors(schema: dict, value: Any) -> list[str]:
    """Every way `value` breaks `schema`, as '<path>: <reason>' lines."""
    found = []
    for error in validator(schema).iter_errors(value):
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        found.append(f"{where}: {error.message}")
    return found
