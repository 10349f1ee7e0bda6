"""Every Redis key name and hash field partyhub writes, in one place.

The C side reads the same names from csrc/common/keys.h (the sidecar builds
the session, state and private keys and the group names itself);
tests/test_keys.py fails when the two disagree. Keys of one session live on
the Redis host of its group `game_<CODE>`, keys of one player on the host of
its group `player_<CODE>_<id>` (channels_redis' consistent hash).
"""

from __future__ import annotations

# --- channels groups (stored by channels_redis as "<prefix>:group:<name>") ---
GROUP_GAME = "game_"  # + CODE: every socket of one session
GROUP_PLAYER = "player_"  # + CODE "_" id: every socket of one player

# --- per session (on the host of its group) ---
KEY_SEQ = "partyhub:seq:"  # + CODE: the event counter
KEY_SESSION = "partyhub:session:"  # + CODE: hash of token digests, the closed flag
KEY_STATE = "partyhub:state:"  # + CODE: latest session.state text
KEY_STATE_SEQ = "partyhub:stateseq:"  # + CODE: the seq of that text

# --- per player (on the host of the player's group) ---
KEY_PSEQ = "partyhub:pseq:"  # + CODE ":" id: private message counter
KEY_PRIVATE = "partyhub:private:"  # + CODE ":" id: latest player.state text
KEY_PRIVATE_SEQ = "partyhub:privateseq:"  # + CODE ":" id: the pseq of that text
KEY_REACT = "partyhub:react:"  # + CODE ":" id: recent reactions (a window)

# --- on every host ---
# Set by the relay (lobby.relay) once it rebuilt the host's keys from the
# database since the host started: "<run_id>:<random, new at each rebuild>".
KEY_READY = "partyhub:ready"

# --- the platform's HTTP limits (on the host of the key itself) ---
KEY_RATELIMIT = "partyhub:ratelimit:"  # + kind ":" address
KEY_LOGIN_USER = "partyhub:login:user:"  # + digest of a username

# --- fields of KEY_SESSION's hash ---
FIELD_HOST = "host"  # -> SHA-256 hex of the host token
FIELD_PLAYER = "p:"  # + SHA-256 hex of a player token -> player id
FIELD_CLOSED = "closed"  # -> "1": the host exited, new sockets close 4000
FIELD_VERSION = "v"  # -> the session seq the hash was written at (newer-only)


def group_name(code: str) -> str:
    """Channels group of every socket of one session."""
    return f"{GROUP_GAME}{code}"


def player_group_name(code: str, player_id: int) -> str:
    """Channels group of every socket of one player."""
    return f"{GROUP_PLAYER}{code}_{player_id}"


def seq_key(code: str) -> str:
    """The session's event counter."""
    return f"{KEY_SEQ}{code}"


def session_key(code: str) -> str:
    """The session's hash: FIELD_HOST, FIELD_PLAYER + digest, FIELD_CLOSED."""
    return f"{KEY_SESSION}{code}"


def state_key(code: str) -> str:
    """The exact text of the session's latest `session.state`."""
    return f"{KEY_STATE}{code}"


def state_seq_key(code: str) -> str:
    """The seq of the text under state_key (newer-only writes)."""
    return f"{KEY_STATE_SEQ}{code}"


def pseq_key(code: str, player_id: int) -> str:
    """One player's private message counter."""
    return f"{KEY_PSEQ}{code}:{player_id}"


def private_key(code: str, player_id: int) -> str:
    """The exact text of one player's latest `player.state`."""
    return f"{KEY_PRIVATE}{code}:{player_id}"


def private_seq_key(code: str, player_id: int) -> str:
    """The pseq of the text under private_key (newer-only writes)."""
    return f"{KEY_PRIVATE_SEQ}{code}:{player_id}"


def of_session(code: str) -> list[str]:
    """Every per-session key but the short-lived reaction counters."""
    return [seq_key(code), session_key(code), state_key(code), state_seq_key(code)]


def of_player(code: str, player_id: int) -> list[str]:
    """The keys one player of a session has on its group's host."""
    return [
        pseq_key(code, player_id),
        private_key(code, player_id),
        private_seq_key(code, player_id),
    ]


def reaction_rate_key(code: str, player_id: int) -> str:
    """Counts one player's recent reactions; expires with its window."""
    return f"{KEY_REACT}{code}:{player_id}"
