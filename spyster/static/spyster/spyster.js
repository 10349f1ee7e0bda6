// What both Spyster pages share: its error texts, its countdown, the
// names of players, and how a round ended, in words.
import { addMessages } from "../lobby/common.js";

addMessages({
  ALREADY_ACCUSED: "You have already made your accusation this round.",
  ALREADY_VOTED: "Your vote is already in.",
  NOT_A_VOTER: "You are the one accused: the others vote.",
  NOT_THE_SPY: "Only the spy can guess the location.",
  UNKNOWN_LOCATION: "That is not one of the locations.",
  SELF_ACCUSED: "Pick someone other than yourself.",
  UNKNOWN_PLAYER: "That player is not in the game any more.",
  NO_DECK: "This server has no locations yet: ask its owner to run `manage.py migrate`.",
});

/** The phases of a round (spyster/state.py). */
export const ROUND_PHASES = ["playing", "vote", "final_vote"];

/** runCountdown's options: a countdown in every phase of a round (the vote's own during a vote). */
export const SPYSTER_COUNTDOWN = {
  show: (state) => ROUND_PHASES.includes(state.phase),
  key: (state) => `${state.round}:${state.phase}:${state.deadline}`,
};

/** The name of player `id` in the state (or "someone"). */
export function nameOf(state, id) {
  const players = [...((state && state.players) || []), ...(((state && state.result) || {}).roles || [])];
  const found = players.find((p) => p.player_id === id);
  return found ? found.name : "someone";
}

/** "4:05" from milliseconds. */
export function clock(ms) {
  const left = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
}

/**
 * How a round ended, in one sentence (`how` of spyster.round_over).
 * @param {Object} state
 * @param {Object} result  the spyster.round_over payload
 */
export function howText(state, result) {
  const spy = result.spy_name || nameOf(state, result.spy_id);
  const accuser = nameOf(state, result.accuser_id);
  switch (result.how) {
    case "caught":
      return `${accuser}'s accusation unmasked ${spy}: everyone else wins.`;
    case "framed":
      return `Everyone agreed on ${nameOf(state, result.accused_id)}, who was innocent: the spy wins.`;
    case "guessed":
      return `${spy} named the location: the spy wins.`;
    case "misguessed":
      return `${spy} guessed ${result.guess}, which was wrong: everyone else wins.`;
    case "voted_out":
      return `Time ran out and the majority named ${spy}: everyone else wins.`;
    case "survived":
      return `Time ran out and no majority named ${spy}: the spy wins.`;
    case "spy_left":
      return `${spy} left the game: nobody scores this round.`;
    default:
      return "";
  }
}

/** How an accusation's vote went, in one sentence (spyster.vote_result). */
export function voteText(state, vote) {
  const accused = nameOf(state, vote.accused_id);
  const no = vote.votes.filter((v) => !v.agree).map((v) => nameOf(state, v.player_id));
  switch (vote.result) {
    case "rejected":
      return `The vote on ${accused} failed: ${no.join(", ")} said no.`;
    case "timed_out":
      return `The vote on ${accused} ran out of time.`;
    case "cancelled":
      return `${accused} left: the vote is off.`;
    default:
      return "";
  }
}
