// `/play/<code>/` of Spyster: the platform's phone page with the round.
//
// The secret card stays face down until tapped (and turns back by itself),
// so a neighbour cannot glance at it; with the card down every phone looks
// the same, the spy's included. The card comes privately: `spyster.role`
// and `player.state` (as client.you, also after every reconnect or reload).
// Everyone can cross locations off the list; the spy, card up, can switch
// the list to guessing and tap the location (with a confirmation). Accusing,
// voting and the final vote are buttons; the actions go over the socket
// (their client messages), or REST when it is down.
import { $, Countdown, fill, fmt, gettext, h, points, runCountdown, toastError } from "../lobby/common.js";
import { playerPage } from "../lobby/player.js";
import { spysterReducer } from "./events.js";
import { ROUND_PHASES, SPYSTER_COUNTDOWN, howText, nameOf, voteText } from "./spyster.js";

const CARD_SHOWN_MS = 8000;
// No card for this round this long after its start (a stored private state
// lost with a Redis restart, say): ask for it over REST (`you` in the GET).
const CARD_WAIT_MS = 1500;
const countdown = new Countdown($("countdown"));

let cardOpen = false;
let cardTimer = 0;
let cardAsked = null;
let guessing = false;
let accusing = false;
/** Locations this player crossed off, by round. */
const crossed = new Set();
let crossedRound = null;
/** The pending confirmation: {resolve}. */
let pending = null;
/** "round:phase" last drawn: a confirmation does not outlive its phase. */
let drawn = null;

const page = playerPage({
  reducers: [spysterReducer],
  titles: { playing: gettext("Who is the spy?"), vote: gettext("Accusation!"), final_vote: gettext("The final vote") },
  section: (state) => (ROUND_PHASES.includes(state.phase) ? "round" : state.phase),
  onStart(started) {
    // A new card: it starts face down.
    started.client.on("spyster.role", () => setCard(false));
  },
  render(current) {
    const state = current.client.state;
    runCountdown(countdown, state, current.client, SPYSTER_COUNTDOWN);
    if (drawn !== `${state.round}:${state.phase}`) {
      drawn = `${state.round}:${state.phase}`;
      closeConfirm(false);
    }
    if (ROUND_PHASES.includes(state.phase)) round(state, current.client.you || {});
    if (state.phase === "scoreboard") result(state);
  },
});

// --- the secret card ----------------------------------------------------------------

function setCard(open) {
  cardOpen = open;
  clearTimeout(cardTimer);
  if (open) cardTimer = setTimeout(turnBack, CARD_SHOWN_MS);
  if (!open) guessing = false;
  if (page.client && page.client.state) page.render();
}

/** The card turns back by itself, unless the spy is busy guessing. */
function turnBack() {
  if (guessing || pending) cardTimer = setTimeout(turnBack, CARD_SHOWN_MS);
  else setCard(false);
}

$("secret-card").addEventListener("click", () => setCard(!cardOpen));

function card(state, you) {
  const dealt = you.round === state.round && you.spy !== null && you.spy !== undefined;
  if (!dealt && cardAsked !== state.round) {
    cardAsked = state.round;
    setTimeout(() => {
      const now = page.client.state;
      if (now && now.round === state.round && (page.client.you || {}).round !== now.round) {
        page.client.refresh().catch(() => {});
      }
    }, CARD_WAIT_MS);
  }
  $("secret-card").setAttribute("aria-pressed", String(cardOpen));
  $("card-face").hidden = !cardOpen;
  $("secret-hint").textContent = cardOpen ? gettext("Tap to hide it") : gettext("Tap to see your secret card");
  $("secret-card").classList.toggle("is-spy", cardOpen && dealt && you.spy);
  if (!dealt) {
    $("card-location").textContent = gettext("Dealing…");
    $("card-role").textContent = "";
  } else if (you.spy) {
    $("card-location").textContent = gettext("You are the spy");
    $("card-role").textContent = gettext("Work out where everyone is, and blend in.");
  } else {
    $("card-location").textContent = you.location;
    $("card-role").textContent = fmt(gettext("You are: %(role)s"), you);
  }
  $("guess-open").hidden = !(cardOpen && dealt && you.spy && state.phase === "playing");
  $("guess-open").textContent = guessing ? gettext("Back to crossing off") : gettext("Guess the location…");
}

$("guess-open").addEventListener("click", () => {
  guessing = !guessing;
  page.render();
});

// --- the round ------------------------------------------------------------------------

function round(state, you) {
  if (crossedRound !== state.round) {
    crossedRound = state.round;
    crossed.clear();
    accusing = false;
  }
  if (state.phase !== "playing") guessing = false;
  card(state, you);
  $("panel-playing").hidden = state.phase !== "playing";
  $("panel-vote").hidden = state.phase !== "vote";
  $("panel-final").hidden = state.phase !== "final_vote";
  if (state.phase === "playing") playing(state);
  if (state.phase === "vote") vote(state, you);
  if (state.phase === "final_vote") finalVote(state, you);
  locations(state);
}

function others(state) {
  return state.players.filter((p) => p.player_id !== page.myId());
}

function playing(state) {
  $("first-asker").textContent = state.first_player_id
    ? state.first_player_id === page.myId()
      ? gettext("You ask the first question.")
      : fmt(gettext("%(name)s asks the first question."), { name: nameOf(state, state.first_player_id) })
    : "";
  $("last-vote").textContent = state.last_vote ? voteText(state, state.last_vote) : "";
  $("last-vote").hidden = !state.last_vote;
  const used = (state.accusations_used || []).includes(page.myId());
  const button = /** @type {HTMLButtonElement} */ ($("accuse-open"));
  button.disabled = used;
  button.textContent = used
    ? gettext("You have made your accusation")
    : accusing
      ? gettext("Cancel")
      : gettext("Accuse someone…");
  $("accuse-choices").hidden = used || !accusing;
  if (!used && accusing) {
    fill(
      $("accuse-choices"),
      others(state).map((p) => {
        const choice = h("button", { type: "button", className: "choice", dataset: { playerId: p.player_id } }, p.name);
        choice.addEventListener("click", () => accuse(p));
        return choice;
      }),
    );
  }
}

$("accuse-open").addEventListener("click", () => {
  accusing = !accusing;
  page.render();
});

async function accuse(player) {
  if (!(await confirmChoice(
        fmt(gettext("Accuse %(name)s of being the spy? You can accuse once a round."), player),
        gettext("Accuse"),
      ))) return;
  accusing = false;
  await act("spyster.accuse", "accuse", { suspect_id: player.player_id });
}

function vote(state, you) {
  const accusation = state.accusation;
  if (!accusation) return;
  const me = page.myId();
  const accused = nameOf(state, accusation.accused_id);
  const mine = you.vote && you.vote.accuser_id === accusation.accuser_id ? you.vote : null;
  const accuser = nameOf(state, accusation.accuser_id);
  let question = fmt(gettext("%(accuser)s accuses %(accused)s. Is %(accused)s the spy?"), { accuser, accused });
  let status = "";
  let canVote = true;
  if (accusation.accused_id === me) {
    question = fmt(gettext("%(accuser)s accuses you! The others are voting."), { accuser });
    canVote = false;
  } else if (accusation.accuser_id === me) {
    status = gettext("Your accusation counts as a yes. Waiting for the others…");
    canVote = false;
  } else if (mine || accusation.voted.includes(me)) {
    status = mine
      ? mine.agree
        ? gettext("You voted yes. Waiting for the others…")
        : gettext("You voted no. Waiting for the others…")
      : gettext("Your vote is in.");
    canVote = false;
  }
  $("vote-question").textContent = question;
  $("vote-status").textContent = status;
  $("vote-buttons").hidden = !canVote;
}

for (const [id, agree] of [
  ["vote-yes", true],
  ["vote-no", false],
]) {
  $(id).addEventListener("click", () => act("spyster.vote", "votes", { agree }));
}

function finalVote(state, you) {
  const named = you.suspect_id ?? null;
  const done = named !== null || ((state.final_vote && state.final_vote.voted) || []).includes(page.myId());
  fill(
    $("final-choices"),
    others(state).map((p) => {
      const choice = h(
        "button",
        {
          type: "button",
          className: p.player_id === named ? "choice chosen" : "choice",
          disabled: done,
          dataset: { playerId: p.player_id },
          "aria-pressed": String(p.player_id === named),
        },
        p.name,
      );
      choice.addEventListener("click", () => suspect(p));
      return choice;
    }),
  );
  $("final-status").textContent = named !== null
      ? fmt(gettext("You named %(name)s. Waiting for the others…"), { name: nameOf(state, named) })
      : "";
}

async function suspect(player) {
  if (!(await confirmChoice(fmt(gettext("Name %(name)s as the spy?"), player), gettext("Name them")))) return;
  await act("spyster.suspect", "suspect", { suspect_id: player.player_id });
}

// --- the locations ------------------------------------------------------------------------

function locations(state) {
  const guessNow = guessing && state.phase === "playing";
  $("locations").classList.toggle("guessing", guessNow);
  $("locations-hint").textContent = guessNow
    ? gettext("Tap the location you think it is. If you are wrong, everyone else wins.")
    : gettext("Tap a place to cross it off.");
  fill(
    $("locations"),
    (state.locations || []).map((name) => {
      const button = h(
        "button",
        { type: "button", className: crossed.has(name) ? "location crossed" : "location", "aria-pressed": String(crossed.has(name)) },
        name,
      );
      button.addEventListener("click", () => tapLocation(name));
      return h("li", {}, button);
    }),
  );
}

async function tapLocation(name) {
  if (!guessing) {
    if (crossed.has(name)) crossed.delete(name);
    else crossed.add(name);
    page.render();
    return;
  }
  if (!(await confirmChoice(
        fmt(gettext("Guess “%(name)s”? If you are wrong, everyone else wins the round."), { name }),
        gettext("Guess"),
      ))) return;
  guessing = false;
  await act("spyster.spy_guess", "spy-guess", { location: name });
}

// --- after the round ------------------------------------------------------------------------

function result(state) {
  const r = state.result;
  $("round-result").hidden = !r;
  if (!r) return;
  const me = page.myId();
  const wasSpy = r.spy_id === me;
  const won = r.how !== "spy_left" && (r.winner === "spy") === wasSpy;
  $("result-headline").textContent = `${won ? gettext("You win the round!") : gettext("You lose the round.")} ${
    wasSpy ? gettext("You were the spy.") : fmt(gettext("The spy was %(name)s."), { name: r.spy_name })
  }`;
  $("result-location").textContent = r.location;
  $("result-how").textContent = howText(state, r);
  const mine = r.deltas.find((d) => d.player_id === me);
  $("my-round").textContent = mine ? fmt(gettext("%(points)s this round"), { points: points(mine.delta) }) : "";
}

// --- acting and confirming ------------------------------------------------------------------

/** Run an action over the socket (REST when it is down); errors become toasts. */
async function act(message, action, fields) {
  try {
    try {
      return await page.client.act(message, fields);
    } catch (err) {
      if (err.code !== "NETWORK") throw err;
      return await page.client.request("POST", action, fields);
    }
  } catch (err) {
    toastError(err);
    page.client.refresh().catch(() => {});
    return null;
  }
}

/** Ask on the page (no blocking dialog): resolves true when confirmed. */
function confirmChoice(text, yes) {
  closeConfirm(false);
  $("confirm-text").textContent = text;
  $("confirm-yes").textContent = yes;
  $("confirm").hidden = false;
  $("confirm-yes").focus();
  return new Promise((resolve) => {
    pending = { resolve };
  });
}

function closeConfirm(answer) {
  $("confirm").hidden = true;
  if (pending) {
    const { resolve } = pending;
    pending = null;
    resolve(answer);
  }
}

$("confirm-yes").addEventListener("click", () => closeConfirm(true));
$("confirm-no").addEventListener("click", () => closeConfirm(false));
