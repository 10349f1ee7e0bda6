// What a game's page asks of the device, for every game: keep the screen
// awake while a game runs (Screen Wake Lock), short sound cues made with Web
// Audio (no sound files), vibration on phones, and the top bar's sound
// toggle, remembered per device and role (muted by default on phones, on by
// default on the big screen). Everything is silently absent where the
// browser lacks it. `window.partyhubDevice` shows the state (tests, console).
import { gettext } from "./i18n.js";

/** Keeps the screen on while `wanted`, asking again when the page is shown again. */
export class ScreenAwake {
  constructor() {
    this.wanted = false;
    /** @type {any} the WakeLockSentinel while held */
    this.sentinel = null;
    this.requests = 0;
    this.granted = 0;
    /** @type {string|null} the last refusal's name (e.g. NotAllowedError) */
    this.error = null;
    this.pending = false;
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.acquire();
    });
  }

  get supported() {
    return typeof navigator !== "undefined" && "wakeLock" in navigator;
  }

  /** @param {boolean} wanted */
  set(wanted) {
    this.wanted = wanted;
    if (wanted) this.acquire();
    else this.release();
  }

  async acquire() {
    if (!this.wanted || this.sentinel || this.pending || !this.supported) return;
    if (document.visibilityState !== "visible") return;
    this.pending = true;
    this.requests += 1;
    try {
      const sentinel = await /** @type {any} */ (navigator).wakeLock.request("screen");
      this.granted += 1;
      this.error = null;
      this.sentinel = sentinel;
      // The browser lets go when the page is hidden; visibilitychange asks again.
      sentinel.addEventListener("release", () => {
        if (this.sentinel === sentinel) this.sentinel = null;
      });
      if (!this.wanted) this.release();
    } catch (err) {
      this.error = (err && err.name) || String(err);
    } finally {
      this.pending = false;
    }
  }

  release() {
    const sentinel = this.sentinel;
    this.sentinel = null;
    if (sentinel) sentinel.release().catch(() => {});
  }

  snapshot() {
    return {
      supported: this.supported,
      wanted: this.wanted,
      active: Boolean(this.sentinel),
      requests: this.requests,
      granted: this.granted,
      error: this.error,
    };
  }
}

/** Tones of each cue: [frequency Hz, start s, length s]. */
const TONES = {
  phase: [
    [660, 0, 0.12],
    [880, 0.13, 0.18],
  ],
  tick: [[1046, 0, 0.07]],
  results: [
    [523, 0, 0.12],
    [659, 0.13, 0.12],
    [784, 0.26, 0.25],
  ],
  gameover: [
    [784, 0, 0.14],
    [659, 0.15, 0.14],
    [784, 0.3, 0.14],
    [1046, 0.45, 0.4],
  ],
};
/** Vibration patterns (ms) of each cue, on phones. */
const BUZZ = { phase: [90], tick: [25], results: [60, 60, 60], gameover: [150, 80, 150, 80, 300] };

/** The sound cues and their on/off switch. */
export class Sound {
  /** @param {"host"|"player"} role */
  constructor(role) {
    this.role = role;
    this.key = `partyhub:sound:${role}`;
    this.muted = this.stored() ?? role !== "host";
    this.vibrates = role === "player";
    /** @type {string[]} the cues played (the last 50), heard or not */
    this.played = [];
    /** @type {AudioContext|null} */
    this.context = null;
    // Browsers start audio only after a gesture: wake it with the first one.
    const unlock = () => {
      if (this.context && this.context.state === "suspended") this.context.resume().catch(() => {});
    };
    document.addEventListener("pointerdown", unlock);
    document.addEventListener("keydown", unlock);
  }

  /** @returns {boolean|null} the saved choice of this device, or null */
  stored() {
    try {
      const value = localStorage.getItem(this.key);
      return value === null ? null : value === "off";
    } catch (err) {
      return null;
    }
  }

  /** @param {boolean} muted */
  setMuted(muted) {
    this.muted = muted;
    try {
      localStorage.setItem(this.key, muted ? "off" : "on");
    } catch (err) {
      // kept for this page only
    }
    if (!muted) this.audio();
  }

  /** The audio context, made on first use (null without Web Audio). */
  audio() {
    if (this.context) return this.context;
    const Context = globalThis.AudioContext || /** @type {any} */ (globalThis).webkitAudioContext;
    if (!Context) return null;
    try {
      this.context = new Context();
    } catch (err) {
      return null;
    }
    return this.context;
  }

  /** Play cue `name` (phase, tick, results, gameover) unless muted; buzz on phones. */
  play(name) {
    this.played.push(name);
    if (this.played.length > 50) this.played.shift();
    if (this.vibrates && typeof navigator.vibrate === "function" && BUZZ[name]) {
      try {
        navigator.vibrate(BUZZ[name]);
      } catch (err) {
        // not allowed before a tap: fine
      }
    }
    if (this.muted) return;
    const context = this.audio();
    if (!context || context.state !== "running") return;
    const now = context.currentTime;
    for (const [frequency, start, length] of TONES[name] || []) {
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, now + start);
      gain.gain.exponentialRampToValueAtTime(0.25, now + start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + start + length);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(now + start);
      oscillator.stop(now + start + length + 0.05);
    }
  }
}

/** Phases that are not a round's play. */
const QUIET = new Set(["lobby", "scoreboard", "finished"]);

/** A page's device: wake lock, sound, the toggle, and cues from state changes. */
export class Device {
  /** @param {"host"|"player"} role */
  constructor(role) {
    this.awake = new ScreenAwake();
    this.sound = new Sound(role);
    /** @type {string|null} "round:phase" last seen, null before the first state */
    this.seen = null;
    this.bindToggle();
    // The last seconds of any countdown (common.js Countdown) tick.
    document.addEventListener("partyhub:last-seconds", () => this.sound.play("tick"));
  }

  bindToggle() {
    const button = document.getElementById("sound-toggle");
    if (!button) return;
    const show = () => {
      button.setAttribute("aria-pressed", String(!this.sound.muted));
      button.title = this.sound.muted ? gettext("Sound is off: turn it on") : gettext("Sound is on: turn it off");
    };
    button.addEventListener("click", () => {
      this.sound.setMuted(!this.sound.muted);
      show();
    });
    show();
  }

  /**
   * The game's state changed: keep the screen on while it runs, and play
   * the cue of a new phase (not for the state a page opens with).
   * @param {Object|null} state
   * @param {boolean} connected
   */
  update(state, connected) {
    const running = Boolean(state && !state.closed && state.phase !== "finished");
    this.awake.set(running && connected);
    if (!state) return;
    const key = `${state.round}:${state.phase}`;
    const first = this.seen === null;
    if (key === this.seen) return;
    this.seen = key;
    if (first) return;
    if (state.phase === "finished") this.sound.play("gameover");
    else if (state.phase === "scoreboard") this.sound.play("results");
    else if (!QUIET.has(state.phase)) this.sound.play("phase");
  }

  /** Let go of the screen (the game ended, or this page left it). */
  stop() {
    this.awake.set(false);
  }

  snapshot() {
    return { wakeLock: this.awake.snapshot(), muted: this.sound.muted, played: [...this.sound.played] };
  }
}

/**
 * The page's device (one per page), also as `window.partyhubDevice`.
 * @param {"host"|"player"} role
 * @returns {Device}
 */
export function pageDevice(role) {
  const found = /** @type {any} */ (window).partyhubDevice;
  if (found) return found;
  const device = new Device(role);
  /** @type {any} */ (window).partyhubDevice = device;
  return device;
}
