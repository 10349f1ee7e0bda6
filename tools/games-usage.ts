// Type-checked by `make typecheck` (tsc, tools/tsconfig.json): code written
// against the platform's generated declarations (every game's messages in the
// transport's shapes) the way a page uses them. If they stop discriminating
// messages by `type`, or lose a field a page relies on, this file stops
// compiling.
import type {
  ClientMessage,
  ClientMessageOf,
  ServerMessage,
  ServerMessageOf,
  SessionStatePayload,
  WelcomeMessage,
} from "../lobby/static/lobby/partyhub-games";

export function describe(message: ServerMessage): string {
  switch (message.type) {
    case "welcome":
      return `${message.role} ${message.player_id ?? "host"} at ${message.server_time}`;
    case "session.state":
      // One state per game, told apart by `game`.
      if (message.payload.game === "hunch") return `guessed: ${message.payload.guessed.length}`;
      if (message.payload.game === "spyster") return message.payload.locations.join(", ");
      return `${message.payload.code} ${message.payload.phase} seq ${message.seq}`;
    case "player.state":
      return "secret" in message.payload ? String(message.payload.secret) : "";
    case "phase.lie_started":
      return `${message.payload.prompt} until ${message.payload.deadline ?? "never"}`;
    case "phase.game_over":
      return message.payload.awards.map((a) => `${a.title}: ${a.winners.length}`).join(", ");
    case "spyster.role":
      return message.payload.spy ? "spy" : `${message.payload.location} #${message.pseq}`;
    case "hunch.round_over":
      return String(message.payload.players.reduce((sum, p) => sum + p.points, 0));
    case "result":
      return `${message.action} ${String(message.ref ?? "")}`;
    case "error":
      return `${message.code}: ${message.message}`;
    default:
      return message.type;
  }
}

export function guess(total: number, ref: string): ClientMessageOf<"hunch.guess"> {
  return { type: "hunch.guess", total, ref };
}

export const reaction: ClientMessage = { type: "reaction", emoji: "🔥", target_player_id: 7 };

export function deadline(event: ServerMessageOf<"phase.scoreboard">): number | null {
  return event.payload.deadline;
}

export function players(state: SessionStatePayload): string[] {
  return state.players.map((p) => p.name);
}

export function greeting(welcome: WelcomeMessage): string {
  return welcome.role === "host" ? "host" : `player ${welcome.player_id}`;
}

export function secret(message: ServerMessageOf<"hunch.secret">): number {
  return message.pseq + message.payload.secret;
}
