// The platform's events, applied to the local state for every game: players
// joining and leaving, pause and resume, the scoreboard, game over, exit.
// A game's reducer comes first and may handle these too (then delegate here).

/**
 * @param {Object|null} state
 * @param {{type: string, payload?: Object}} event
 * @returns {Object|undefined} the new state, or undefined for an event that is not the platform's
 */
/** The players with the scores of a ranking. */
function withScores(players, ranking) {
  const scores = new Map((ranking || []).map((r) => [r.player_id, r.score]));
  return (players || []).map((p) => (scores.has(p.player_id) ? { ...p, score: scores.get(p.player_id) } : p));
}

export function platformReducer(state, event) {
  const p = event.payload || {};
  const s = { ...(state || {}) };
  switch (event.type) {
    case "player.joined":
    case "player.left":
      s.players = p.players;
      return s;
    case "phase.paused":
      return Object.assign(s, { paused: true, remaining_ms: p.remaining_ms ?? null, deadline: null });
    case "phase.resumed":
      return Object.assign(s, { paused: false, remaining_ms: null, deadline: p.deadline ?? null });
    case "session.closed":
      s.closed = true;
      return s;
    case "phase.scoreboard":
      return Object.assign(s, {
        phase: "scoreboard",
        round: p.round,
        rounds: p.rounds ?? s.rounds,
        ranking: p.ranking,
        players: withScores(s.players, p.ranking),
        deadline: p.deadline ?? null,
      });
    case "phase.game_over":
      return Object.assign(s, {
        phase: "finished",
        awards: p.awards ?? null,
        ranking: p.ranking,
        players: withScores(s.players, p.ranking),
        deadline: null,
      });
    default:
      return undefined;
  }
}
