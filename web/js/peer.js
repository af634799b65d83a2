// The RTCPeerConnection to the SFU. The browser always makes the offer (docs/protocol.md,
// "Life of a connection" step 3): server-made re-offers renumber header extensions and crash
// Chromium (docs/architecture.md). One offer is in flight at a time; renegotiation asked for
// meanwhile is remembered and done right after the answer.
//
// Emits 'mapping' after each answer (receive slots now carry other tracks) and 'state' when
// the connection state changes. Uses standard APIs only (addTransceiver with sendonly /
// recvonly), so it runs in Chromium and Firefox alike.

export class PeerSession extends EventTarget {
  #send;
  #offerSeq = 0;
  #inFlight = null; // id of the offer awaiting its answer
  #again = false; // renegotiation requested while an offer was in flight
  #offerSent = false;
  #pendingCandidates = [];
  #sendSlots = new Map(); // source -> transceiver
  #recvWanted = { audio: 0, video: 0 };
  #mids = new Map(); // mid -> track sid, from the last answer
  #closed = false;

  /**
   * @param {RTCIceServer[]} iceServers always explicit: without a list the browser would
   *   contact a public STUN server (docs: browser-tests notes, "Loopback only").
   * @param {(msg: object) => string|null} send sends a signalling message, returns its id.
   */
  constructor(iceServers, send) {
    super();
    this.#send = send;
    this.pc = new RTCPeerConnection({ iceServers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    this.pc.addEventListener('icecandidate', (event) => this.#onCandidate(event.candidate));
    const onState = () => this.dispatchEvent(new CustomEvent('state', { detail: this.state }));
    this.pc.addEventListener('connectionstatechange', onState);
    this.pc.addEventListener('iceconnectionstatechange', onState);
  }

  /** 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed'. */
  get state() {
    return this.pc.connectionState || this.pc.iceConnectionState;
  }

  /** Adds a sendonly slot for one of our sources; `track` may be null (camera off). */
  publish(source, kind, track, stream) {
    const transceiver = this.pc.addTransceiver(track || kind, { direction: 'sendonly', streams: [stream] });
    this.#sendSlots.set(source, transceiver);
  }

  /**
   * Stops sending a source: its m-section goes `inactive` in the next offer, which the server
   * takes as the end of that track. A new share needs a new transceiver (a new mid), because
   * the server never revives an ended track's m-section.
   */
  async unpublish(source) {
    const transceiver = this.#sendSlots.get(source);
    if (!transceiver) return;
    this.#sendSlots.delete(source);
    if (this.#closed) return;
    try {
      transceiver.direction = 'inactive';
      await transceiver.sender.replaceTrack(null);
    } catch {
      // A closed connection: nothing left to stop.
      return;
    }
    this.negotiate();
  }

  hasSource(source) {
    return this.#sendSlots.has(source);
  }

  /** Swaps the track of a published source without renegotiation (RFC 8829 section 4.2.4). */
  async replaceTrack(source, track) {
    const transceiver = this.#sendSlots.get(source);
    if (transceiver) await transceiver.sender.replaceTrack(track);
  }

  /** The server's `renegotiate`: have this many receive slots per kind, then re-offer. */
  setReceiveSlots(recv) {
    const audio = Number.isInteger(recv && recv.audio) ? recv.audio : 0;
    const video = Number.isInteger(recv && recv.video) ? recv.video : 0;
    this.#recvWanted = { audio: Math.max(0, audio), video: Math.max(0, video) };
    this.negotiate();
  }

  /** Sends an offer now, or right after the outstanding one is answered. */
  negotiate() {
    if (this.#closed) return;
    if (this.#inFlight) {
      this.#again = true;
      return;
    }
    this.#offer().catch((err) => this.#fail(err));
  }

  async #offer() {
    this.#ensureReceiveSlots();
    if (this.pc.getTransceivers().length === 0) return; // nothing to negotiate yet
    const id = `offer-${++this.#offerSeq}`;
    this.#inFlight = id;
    try {
      const offer = await this.pc.createOffer();
      await this.pc.setLocalDescription(offer);
      const tracks = [];
      for (const [source, transceiver] of this.#sendSlots) {
        if (transceiver.mid !== null) tracks.push({ mid: transceiver.mid, source });
      }
      if (this.#closed) return;
      const sent = this.#send({ type: 'offer', id, sdp: this.pc.localDescription.sdp, tracks });
      if (sent === null) throw new Error('the signalling connection is closed');
      this.#offerSent = true;
      this.#flushCandidates();
    } catch (err) {
      this.#inFlight = null;
      throw err;
    }
  }

  #ensureReceiveSlots() {
    const have = { audio: 0, video: 0 };
    for (const t of this.pc.getTransceivers()) {
      if (t.direction === 'recvonly') have[t.receiver.track.kind] += 1;
    }
    for (const kind of ['audio', 'video']) {
      for (let n = have[kind]; n < this.#recvWanted[kind]; n += 1) {
        this.pc.addTransceiver(kind, { direction: 'recvonly' });
      }
    }
  }

  /** The server's `answer` to our outstanding offer. */
  async handleAnswer(message) {
    if (!this.#inFlight || this.#closed) return;
    if (message.id !== undefined && message.id !== this.#inFlight) return; // a stale answer
    try {
      await this.pc.setRemoteDescription({ type: 'answer', sdp: message.sdp });
    } catch (err) {
      this.#inFlight = null;
      await this.#rollback();
      this.#fail(err);
      return;
    }
    const mids = message.mids && typeof message.mids === 'object' ? message.mids : {};
    this.#mids = new Map(Object.entries(mids).filter(([, sid]) => typeof sid === 'string'));
    this.#inFlight = null;
    this.dispatchEvent(new Event('mapping'));
    if (this.#again) {
      this.#again = false;
      this.negotiate();
    }
  }

  /** An `error` reply to one of our offers: undo it so the next offer starts clean. */
  async handleOfferError(id) {
    if (!this.#inFlight || id !== this.#inFlight) return false;
    this.#inFlight = null;
    await this.#rollback();
    if (this.#again) {
      this.#again = false;
      this.negotiate();
    }
    return true;
  }

  async #rollback() {
    try {
      if (this.pc.signalingState === 'have-local-offer') {
        await this.pc.setLocalDescription({ type: 'rollback' });
      }
    } catch {
      // Nothing more to undo; the next offer starts from the stable state anyway.
    }
  }

  /** Receive slots that carry a track now: [{mid, kind, trackSid, track, receiver}]. */
  receiveSlots() {
    const slots = [];
    for (const t of this.pc.getTransceivers()) {
      if (t.direction !== 'recvonly' || t.mid === null) continue;
      const trackSid = this.#mids.get(t.mid);
      if (!trackSid) continue;
      slots.push({ mid: t.mid, kind: t.receiver.track.kind, trackSid, track: t.receiver.track, receiver: t.receiver });
    }
    return slots;
  }

  /** Trickle ICE (RFC 8838): candidates go out as they are found, after our offer. */
  #onCandidate(candidate) {
    // Chromium also reports an empty candidate per finished generation; the null one that
    // follows is the real end of candidates, sent once.
    if (candidate && !candidate.candidate) return;
    let message;
    if (candidate) {
      message = { type: 'ice_candidate', candidate: candidate.candidate, sdp_mid: candidate.sdpMid, sdp_mline_index: candidate.sdpMLineIndex };
    } else {
      // End of candidates (RFC 8838 section 8.2) for the one bundled transport, named by its
      // first m-section: the server needs a mid or an index to know which transport.
      const first = this.pc.getTransceivers().find((t) => t.mid !== null);
      message = { type: 'ice_candidate', candidate: '', sdp_mid: first ? first.mid : null, sdp_mline_index: 0 };
    }
    if (this.#offerSent) this.#send(message);
    else this.#pendingCandidates.push(message);
  }

  #flushCandidates() {
    const pending = this.#pendingCandidates;
    this.#pendingCandidates = [];
    for (const message of pending) this.#send(message);
  }

  #fail(err) {
    console.error('sparkle: negotiation failed', err);
    this.dispatchEvent(new CustomEvent('error', { detail: err instanceof Error ? err.message : String(err) }));
  }

  close() {
    this.#closed = true;
    this.pc.close();
  }
}
