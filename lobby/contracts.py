"""The WebSocket contract, generated from the typed message table.

Every message a socket may receive or send, of the transport, the platform
and every registered game, as declared to realtime.protocol (the same
`Message`s the servers check with): as an AsyncAPI 3.0 document with one
JSON Schema per message type (GET /api/asyncapi.json), and as the message
tables of docs/protocol.md (`manage.py contracts` writes them between
markers; a test checks they are current).
"""

from __future__ import annotations

from realtime import protocol
from realtime.schema import Message

from . import registry

ASYNCAPI_VERSION = "3.0.0"
CHANNEL = "game"
ADDRESS = "/ws/game/{code}/"


def server_messages() -> list[Message]:
    """What a socket receives: the transport's messages, then every event
    (the platform's, then each game's, in declaration order), then the rest."""
    transport = protocol.server_messages()
    events = list(protocol.declared_events().values())
    return list(transport.values())[:1] + events + list(transport.values())[1:]


def client_messages() -> list[Message]:
    """What a socket may send: `ping`, `reaction`, every game's action messages."""
    return list(protocol.client_messages().values())


def _component(message: Message) -> dict:
    tags = [{"name": message.owner}]
    if message.private:
        tags.append({"name": "private"})
    component = {
        "name": message.type,
        "title": message.type,
        "payload": message.schema(),
        "tags": tags,
    }
    if message.doc:
        component["summary"] = message.doc
    if message.after:
        component["description"] = f"Sent after: {message.after}."
    return component


def _key(direction: str, message: Message) -> str:
    # `reaction` is both a client and a server message: the keys tell them apart.
    return f"{direction}.{message.type}"


def asyncapi(host: str = "localhost:8000", secure: bool = False) -> dict:
    """The AsyncAPI 3.0 document of the WebSocket protocol, for `host`."""
    sent = [(_key("server", m), m) for m in server_messages()]
    received = [(_key("client", m), m) for m in client_messages()]
    components = {key: _component(m) for key, m in sent + received}
    channel_messages = {key: {"$ref": f"#/components/messages/{key}"} for key in components}
    games = ", ".join(f"{d.name} ({d.title})" for d in registry.games())
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "partyhub WebSocket protocol",
            "version": protocol.SERVER_VERSION,
            "description": (
                "Every message is one JSON object in one text frame, with a string `type`. "
                "Events carry `seq` (one counter per session) and a `payload`; private "
                "messages to one player carry `pseq` instead. Generated from the typed "
                f"message table the servers validate with; games: {games}. "
                "Prose, close codes and error codes: docs/protocol.md."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "partyhub": {
                "host": host,
                "protocol": "wss" if secure else "ws",
                "description": "Daphne (GameConsumer) or the C sidecar: the same protocol.",
            }
        },
        "channels": {
            CHANNEL: {
                "address": ADDRESS,
                "title": "One session's socket",
                "description": (
                    "Query: `session_token=<token>` (a player) or "
                    "`role=host&session_token=<host token>`; the Origin header must name "
                    "an allowed host."
                ),
                "servers": [{"$ref": "#/servers/partyhub"}],
                "parameters": {"code": {"description": "The 4-letter session code."}},
                "messages": channel_messages,
            }
        },
        "operations": {
            "sendToClient": {
                "action": "send",
                "title": "Server to client",
                "channel": {"$ref": f"#/channels/{CHANNEL}"},
                "messages": [{"$ref": f"#/channels/{CHANNEL}/messages/{key}"} for key, _ in sent],
            },
            "receiveFromClient": {
                "action": "receive",
                "title": "Client to server",
                "channel": {"$ref": f"#/channels/{CHANNEL}"},
                "messages": [
                    {"$ref": f"#/channels/{CHANNEL}/messages/{key}"} for key, _ in received
                ],
            },
        },
        "components": {"messages": components},
    }


# --- docs/protocol.md's tables -------------------------------------------------------------


def _describe(field) -> str:
    """A field as the tables show it: `name` (type; doc)."""
    kind = _kind(field.schema)
    note = "; ".join(x for x in (kind, field.doc) if x)
    optional = "optional" if not field.required else ""
    note = ", ".join(x for x in (optional, note) if x)
    return f"`{field.name}` ({note})" if note else f"`{field.name}`"


def _kind(schema: dict) -> str:
    if "const" in schema:
        return repr(schema["const"])
    if "enum" in schema:
        return " \\| ".join(f"`{v}`" if isinstance(v, str) else str(v) for v in schema["enum"])
    if "anyOf" in schema:
        return " or ".join(_kind(s) for s in schema["anyOf"])
    if "allOf" in schema:
        return " and ".join(_kind(s) for s in schema["allOf"])
    kind = schema.get("type")
    if kind == "array":
        return f"list of {_kind(schema['items'])}"
    if kind == "object" and "properties" in schema:
        return "{" + ", ".join(schema["properties"]) + "}"
    if kind == "object":
        return "object"
    if kind is None:
        return "any"
    return {"integer": "int", "boolean": "bool", "string": "str", "null": "null"}.get(kind, kind)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("\n", " ") for c in cells) + " |"


def event_table(owner: str) -> str:
    """The events of `owner` (a game, or the platform) as a markdown table."""
    lines = [_row(["type", "sent after", "payload"]), "|---|---|---|"]
    for message in protocol.declared_events(owner).values():
        fields = ", ".join(_describe(f) for f in message.payload or ())
        kind = " (private)" if message.private else ""
        lines.append(_row([f"`{message.type}`{kind}", message.after, fields]))
    return "\n".join(lines)


def client_table() -> str:
    """Every client message as a markdown table."""
    lines = [_row(["type", "owner", "fields", "what it does"]), "|---|---|---|---|"]
    for message in client_messages():
        fields = ", ".join(_describe(f) for f in message.fields) or "none"
        lines.append(_row([f"`{message.type}`", message.owner, fields, message.doc]))
    return "\n".join(lines)


def state_table() -> str:
    """Each game's own fields of `session.state` and of `player.state`."""
    lines = [_row(["game", "its fields of `session.state`", "`player.state`"]), "|---|---|---|"]
    for driver in registry.games():
        public = ", ".join(_describe(f) for f in driver.state_fields) or "none"
        private = ", ".join(_describe(f) for f in driver.private_fields) or "none"
        lines.append(_row([f"`{driver.name}`", public, private]))
    return "\n".join(lines)


def docs_tables() -> dict[str, str]:
    """Marker name -> generated markdown, for docs/protocol.md."""
    tables = {"events:partyhub": event_table(protocol.SHARED_OWNER), "state": state_table()}
    for driver in registry.games():
        tables[f"events:{driver.name}"] = event_table(driver.name)
    tables["client-messages"] = client_table()
    return tables


def begin_marker(name: str) -> str:
    return f"<!-- BEGIN GENERATED {name} (manage.py contracts) -->"


def end_marker(name: str) -> str:
    return f"<!-- END GENERATED {name} -->"


def fill_markers(text: str, tables: dict[str, str]) -> str:
    """`text` with every marked block replaced by its table; ValueError for a
    table whose markers are missing."""
    for name, table in tables.items():
        begin, end = begin_marker(name), end_marker(name)
        start = text.find(begin)
        stop = text.find(end, start)
        if start < 0 or stop < 0:
            raise ValueError(f"docs/protocol.md lacks the markers of {name!r}")
        text = text[: start + len(begin)] + "\n" + table + "\n" + text[stop:]
    return text
