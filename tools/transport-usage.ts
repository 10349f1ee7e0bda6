// Type-checked by `make typecheck` (tsc, tools/tsconfig.json): code written
// against the transport's generated declarations alone, the way a client that
// knows no game uses them, and with an owner's events filled in. If the
// declarations stop discriminating messages by `type`, or an owner's events
// can no longer fill them, this file stops compiling.
import type {
  ClientMessage,
  EventMessage,
  PrivateEventMessage,
  ServerMessage,
} from "../realtime/static/realtime/partyhub-transport";

// Any owner's messages: what the transport itself knows of them.
export const anyEvent: ServerMessage = { type: "some.event", seq: 3, payload: { n: 1 } };
export const anyAction: ClientMessage = { type: "some.action", ref: 1 };
export const ping: ClientMessage = { type: "ping", ts: 12 };

export function counter(message: EventMessage | PrivateEventMessage): number {
  return "seq" in message ? message.seq : message.pseq;
}

// An owner that declares one event, one private event and its state.
type Ticked = EventMessage<"demo.ticked", { n: number }>;
type Dealt = PrivateEventMessage<"demo.dealt", { card: string }>;
type Message = ServerMessage<Ticked | Dealt, { ticks: number }, { hand: string[] }>;

export function describe(message: Message): string {
  switch (message.type) {
    case "welcome":
      return `${message.role} ${message.player_id ?? "host"} at ${message.server_time}`;
    case "session.state":
      return `${message.payload.ticks} ticks, seq ${message.seq}`;
    case "player.state":
      return message.payload.hand.join(", ");
    case "demo.ticked":
      return String(message.payload.n + message.seq);
    case "demo.dealt":
      return `${message.payload.card} #${message.pseq}`;
    case "result":
      return `${message.action} ${String(message.ref ?? "")}`;
    case "error":
      return `${message.code}: ${message.message}`;
    case "server.draining":
      return `back in ${message.reconnect_in_ms} ms`;
    case "pong":
      return String(message.ts);
  }
}
