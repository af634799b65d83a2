// window.sparkleDebug: a read-only view of the client for tests and for people debugging a
// call from the console. It exposes nothing the page does not already show to its user.

const SAMPLE_COLUMNS = [0.2, 0.35, 0.5, 0.65, 0.8];
const SAMPLE_ROWS = [0.55, 0.7, 0.85]; // below the top band where test cameras draw a marker

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Median colour of a grid of points of the current frame of a video element, or null. */
function sampleVideo(video) {
  if (!video || !video.videoWidth || !video.videoHeight) return null;
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(video, 0, 0);
  const channels = [[], [], []];
  for (const fy of SAMPLE_ROWS) {
    for (const fx of SAMPLE_COLUMNS) {
      const px = ctx.getImageData(Math.floor(fx * canvas.width), Math.floor(fy * canvas.height), 1, 1).data;
      for (let c = 0; c < 3; c += 1) channels[c].push(px[c]);
    }
  }
  return channels.map(median);
}

/** `extras`: {toasts: () => string[], chimes: () => number} from the page. */
export function installDebug(getMeeting, getGrid, getPhase, extras = {}) {
  const toasts = () => (extras.toasts ? extras.toasts() : []);
  const chimes = () => (extras.chimes ? extras.chimes() : 0);
  const api = {
    /** Overall state: phase, connection, who is here, what is published, what we send. */
    state() {
      const m = getMeeting();
      if (!m) return { phase: getPhase(), participants: [], tracks: [], toasts: toasts(), chimes: chimes() };
      return {
        phase: getPhase(),
        meetingPhase: m.phase,
        connection: m.connection(),
        room: m.room,
        self: m.self,
        participants: [...m.participants.values()].map((p) => ({ ...p })),
        tracks: [...m.tracks.values()].map((t) => ({ ...t })),
        activeSpeaker: m.activeSpeaker,
        microphoneEnabled: m.media.micEnabled,
        cameraEnabled: m.media.cameraEnabled,
        notices: m.notices.map((n) => ({ ...n })),
        // Host controls: our rights and hand, the waiting room (hosts), chat, what we were told.
        host: m.isHost(),
        permissions: m.permissions(),
        hand: m.hand(),
        held: m.held,
        sharingScreen: Boolean(m.screenTrack),
        lobby: [...m.lobby.values()].map((p) => ({ ...p })),
        chat: m.chat.map((c) => ({ ...c })),
        alerts: m.alerts.map((a) => ({ ...a })),
        // The room's recording under way ({id, state, started_at, by}), or null.
        recording: m.recording ? { ...m.recording, by: m.recording.by ? { ...m.recording.by } : null } : null,
        toasts: toasts(),
        chimes: chimes(),
      };
    },

    /** One entry per remote tile, with frame counts and the track sids it shows. */
    remoteTiles() {
      const m = getMeeting();
      const grid = getGrid();
      if (!m || !grid) return [];
      const view = new Map(m.remoteView().map((p) => [p.sid, p]));
      return grid.remoteTiles().map((tile) => {
        const p = view.get(tile.participantSid);
        return {
          ...tile,
          cameraTrackSid: p ? p.cameraTrackSid : null,
          audioTrackSids: p ? p.audio.map((a) => a.trackSid) : [],
        };
      });
    },

    /** inbound-rtp counters per receive slot that carries a track (RTCStatsReport). */
    async inboundStats() {
      const m = getMeeting();
      if (!m || !m.peer) return [];
      const out = [];
      for (const slot of m.peer.receiveSlots()) {
        const track = m.tracks.get(slot.trackSid);
        const report = await slot.receiver.getStats();
        for (const stat of report.values()) {
          if (stat.type !== 'inbound-rtp') continue;
          out.push({
            mid: slot.mid,
            kind: slot.kind,
            trackSid: slot.trackSid,
            participantSid: track ? track.participant_sid : null,
            packetsReceived: stat.packetsReceived || 0,
            bytesReceived: stat.bytesReceived || 0,
            framesDecoded: stat.framesDecoded || 0,
          });
        }
      }
      return out;
    },

    /** Median [r, g, b] of the remote tile of a participant, or null without a picture. */
    sampleColor(participantSid) {
      const grid = getGrid();
      return grid ? sampleVideo(grid.videoElement(participantSid)) : null;
    },
  };
  Object.defineProperty(window, 'sparkleDebug', { value: Object.freeze(api), writable: false, configurable: false });
}
