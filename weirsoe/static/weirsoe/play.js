// `/play/<code>/` of the quiz: the platform's phone page (lobby/player.js)
// with the quiz's phases: write a lie, pick an answer, see the results.
import { $, Countdown, fill, fmt, gettext, h, names, number, points, runCountdown, toastError } from "../lobby/common.js";
import { playerPage } from "../lobby/player.js";
import { quizReducer } from "./events.js";
import { QUIZ_COUNTDOWN, rerenderAt, revealProgress } from "./quiz.js";

const countdown = new Countdown($("countdown"));

/** "phase:round" of the state that came with the last `you` (own lie, guess). */
let youKey = null;
let choicesKey = null;

const TITLES = {
  lie: gettext("Write a lie"),
  question: gettext("Write a lie"),
  guess: gettext("Pick the truth"),
  scores: gettext("Results"),
};

const stateKey = (state) => (state ? `${state.phase}:${state.round}` : null);

const page = playerPage({
  reducers: [quizReducer],
  titles: TITLES,
  section: (state) => (state.phase === "question" ? "lie" : state.phase),
  onStart(started) {
    const client = started.client;
    client.on("state", (event) => {
      if (event.cause === "refresh") youKey = stateKey(event.state);
    });
    // `you` (own lie, own answers, guess) comes over REST: ask after every
    // (re)connect and every phase change.
    const refreshYou = () => client.refresh().catch(toastError);
    client.on("session.state", refreshYou);
    client.on("*", (message) => {
      if (message.type.startsWith("phase.")) refreshYou();
    });
  },
  render(current) {
    const client = current.client;
    const state = client.state;
    const fresh = youKey === stateKey(state) ? client.you : null;
    const me = current.me(state);
    const reveal = revealProgress(state, client);
    rerenderAt(reveal.nextAt, () => current.render());
    $("me-score").textContent = number(me ? reveal.scoreOf(me.player_id, me.score) : 0);
    runCountdown(countdown, state, client, QUIZ_COUNTDOWN);
    const renderers = { lie, question: lie, guess, scores };
    if (renderers[state.phase]) renderers[state.phase](state, fresh, reveal);
  },
});

let lieRound = null;

function lie(state, you) {
  if (lieRound !== state.round) {
    lieRound = state.round;
    /** @type {HTMLInputElement} */ ($("lie")).value = "";
  }
  $("lie-category").textContent =
    state.question && state.question.category ? fmt(gettext("Category: %(category)s"), state.question) : "";
  $("lie-prompt").textContent = state.question ? state.question.prompt : "";
  const mine = you && you.lie;
  $("lie-button").textContent = mine ? gettext("Change my lie") : gettext("Send lie");
  $("lie-status").textContent = mine ? yourLie(mine) : "";
}

$("lie-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ ($("lie"));
  const button = /** @type {HTMLButtonElement} */ ($("lie-button"));
  button.disabled = true;
  try {
    const body = await page.client.request("POST", "lies", { text: input.value });
    $("lie-status").textContent = yourLie(body.text);
    input.value = "";
    await page.client.refresh();
  } catch (err) {
    toastError(err);
  } finally {
    button.disabled = false;
  }
});

/** @param {string} text */
function yourLie(text) {
  return fmt(gettext("Your lie: “%(text)s”. You can change it until the answers are mixed."), { text });
}

/** @param {string} text */
function youPicked(text) {
  return fmt(gettext("You picked “%(text)s”. Waiting for the others…"), { text });
}

function guess(state, you) {
  $("guess-prompt").textContent = state.question ? state.question.prompt : "";
  const box = $("guess-choices");
  const status = $("guess-status");
  if (!you) {
    // Until we know which answers are our own lie, offer none.
    if (choicesKey !== "loading") fill(box, [h("p", { className: "muted" }, gettext("Loading the answers…"))]);
    choicesKey = "loading";
    status.textContent = "";
    return;
  }
  const own = new Set(you.own_answer_ids);
  const offered = (state.answers || []).filter((a) => !own.has(a.id));
  const key = JSON.stringify([state.round, offered, you.guess]);
  if (key === choicesKey) return;
  choicesKey = key;
  fill(
    box,
    offered.map((a) => {
      const button = h(
        "button",
        {
          type: "button",
          className: a.id === you.guess ? "choice chosen" : "choice",
          disabled: you.guess !== null,
          dataset: { answerId: a.id },
          "aria-pressed": String(a.id === you.guess),
        },
        a.text,
      );
      button.addEventListener("click", () => pick(a, button));
      return button;
    }),
  );
  const chosen = (state.answers || []).find((a) => a.id === you.guess);
  status.textContent = chosen ? youPicked(chosen.text) : "";
}

async function pick(answer, button) {
  for (const b of $("guess-choices").querySelectorAll("button")) b.disabled = true;
  button.classList.add("chosen");
  try {
    await page.client.request("POST", "guesses", { answer_id: answer.id });
    $("guess-status").textContent = youPicked(answer.text);
    await page.client.refresh();
  } catch (err) {
    toastError(err);
    choicesKey = null;
    page.client.refresh().catch(() => {});
  }
}

function scores(state, _fresh, reveal) {
  const results = state.results;
  if (!results) return;
  const id = page.myId();
  // During the reveal a line appears once the step of its answer is reached.
  const shown = (answer) => reveal.done || reveal.reached.some((s) => s.answer.id === answer.id);
  $("result-truth").textContent = reveal.done || reveal.truthShown ? (results.truth ? results.truth.text : "") : "…";
  const lines = [];
  const picked = results.answers.find((a) => a.guessed_by.some((w) => w.player_id === id));
  if (!picked) lines.push(h("li", {}, gettext("You didn't pick an answer.")));
  else if (!shown(picked)) lines.push(h("li", { className: "waiting" }, gettext("Your pick: wait for it…")));
  else if (picked.is_truth) lines.push(h("li", { className: "good" }, gettext("You found the truth!")));
  else {
    const fell = fmt(gettext("You fell for %(names)s's lie “%(text)s”."), { names: names(picked.authors), text: picked.text });
    lines.push(h("li", { className: "bad" }, fell));
  }
  const mine = results.answers.find((a) => a.authors.some((w) => w.player_id === id));
  if (!mine) lines.push(h("li", {}, gettext("You didn't write a lie.")));
  else if (!shown(mine)) {
    lines.push(h("li", { className: "waiting" }, fmt(gettext("Your lie “%(text)s”: wait for it…"), mine)));
  } else {
    const victims = mine.guessed_by.filter((w) => w.player_id !== id);
    lines.push(
      victims.length
        ? h("li", { className: "good" }, fmt(gettext("Your lie “%(text)s” fooled %(names)s."), { text: mine.text, names: names(victims) }))
        : h("li", {}, fmt(gettext("Nobody fell for your lie “%(text)s”."), mine)),
    );
  }
  fill($("my-results"), lines);
  const delta = results.deltas.find((d) => d.player_id === id);
  const gained = reveal.done ? (delta ? delta.delta : 0) : reveal.gainedOf(id);
  const total = delta ? reveal.scoreOf(id, delta.score) : 0;
  $("my-delta").textContent = delta
    ? fmt(gettext("%(gained)s this round · %(total)s in total"), { gained: points(gained), total: number(total) })
    : "";
}
