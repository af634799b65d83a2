// A short two-note chime for a knock at the waiting room, synthesised with WebAudio
// (OscillatorNode): no audio file to fetch. Browsers start an AudioContext "suspended" until
// the page had a user gesture (autoplay policy); playing then is silent, never an error, and
// resume() is attempted so the next knock is heard.

const NOTES_HZ = [880, 1318.5]; // A5 then E6: a rising fifth, recognisable and unalarming
const NOTE_S = 0.18;
const PEAK_GAIN = 0.18;

export class Chime {
  #ctx = null;
  played = 0; // how many chimes were scheduled (for the debug hooks)

  /** Plays the chime; returns true when it was scheduled, false when audio is unavailable. */
  play() {
    try {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return false;
      if (!this.#ctx) this.#ctx = new Context();
      const ctx = this.#ctx;
      if (ctx.state === 'suspended' && typeof ctx.resume === 'function') ctx.resume().catch(() => {});
      const start = ctx.currentTime + 0.02;
      NOTES_HZ.forEach((hz, i) => {
        const at = start + i * NOTE_S;
        const osc = ctx.createOscillator();
        const gain = ctx.createGain();
        osc.type = 'sine';
        osc.frequency.setValueAtTime(hz, at);
        // Ramps, not steps: a step in gain clicks.
        gain.gain.setValueAtTime(0.0001, at);
        gain.gain.exponentialRampToValueAtTime(PEAK_GAIN, at + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + NOTE_S * 1.6);
        osc.connect(gain);
        gain.connect(ctx.destination);
        osc.start(at);
        osc.stop(at + NOTE_S * 1.7);
      });
      this.played += 1;
      return true;
    } catch (err) {
      console.warn('sparkle: cannot play the knock chime', err);
      return false;
    }
  }
}
