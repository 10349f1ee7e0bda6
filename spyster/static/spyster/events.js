// Spyster's public events applied to the local state (the platform's own
// are applied by lobby/platform.js after this reducer). The fields are those
// of Spyster's part of `session.state` (spyster/state.py, spyster/README.md).
import { platformReducer } from "../lobby/platform.js";

/**
 * @param {Object|null} state
 * @param {{type: string, payload?: Object}} event
 * @returns {Object|undefined} the new state, or undefined for an event that is not Spyster's
 */
export function spysterReducer(state, event) {
  const p = event.payload || {};
  const s = { ...(state || {}) };
  switch (event.type) {
    case "spyster.round_started":
      return Object.assign(s, {
        phase: "playing",
        round: p.round,
        rounds: p.rounds ?? s.rounds,
        time_limit: p.time_limit ?? s.time_limit,
        deadline: p.deadline ?? null,
        locations: p.locations,
        players: p.players,
        first_player_id: p.first_player_id ?? null,
        accusations_used: [],
        accusation: null,
        clock_ms: null,
        final_vote: null,
        result: null,
        last_vote: null,
        ranking: null,
      });
    case "spyster.vote_started":
      return Object.assign(s, {
        phase: "vote",
        deadline: p.deadline ?? null,
        clock_ms: p.clock_ms ?? null,
        accusation: { accuser_id: p.accuser_id, accused_id: p.accused_id, voters: p.voters, voted: [p.accuser_id] },
        accusations_used: [...(s.accusations_used || []), p.accuser_id],
        last_vote: null,
      });
    case "spyster.voted":
      if (p.kind === "final") {
        const voted = (s.final_vote && s.final_vote.voted) || [];
        return Object.assign(s, { final_vote: { voted: [...voted, p.player_id] } });
      }
      if (!s.accusation) return s;
      return Object.assign(s, { accusation: { ...s.accusation, voted: [...s.accusation.voted, p.player_id] } });
    case "spyster.vote_result":
      if (p.result === "passed") return Object.assign(s, { last_vote: p });
      return Object.assign(s, { phase: "playing", deadline: p.deadline ?? null, accusation: null, clock_ms: null, last_vote: p });
    case "spyster.final_vote_started":
      return Object.assign(s, { phase: "final_vote", deadline: p.deadline ?? null, final_vote: { voted: [] } });
    case "spyster.round_over": {
      const scores = new Map((p.deltas || []).map((d) => [d.player_id, d.score]));
      s.players = (s.players || []).map((pl) => (scores.has(pl.player_id) ? { ...pl, score: scores.get(pl.player_id) } : pl));
      return Object.assign(s, { result: p, accusation: null, final_vote: null, clock_ms: null });
    }
    case "phase.game_over":
      // The platform's fields, and the round's are gone.
      return Object.assign(platformReducer(s, event), { result: null, accusation: null, final_vote: null });
    default:
      return undefined;
  }
}
