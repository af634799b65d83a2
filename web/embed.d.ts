// Type declarations for the Sparkle embed snippet, /embed.js (docs/embedding.md).
//
//   <script src="https://sparkle.example/embed.js"></script>
//
// defines `window.SparkleMeeting`. Names follow Jitsi's iframe API where Sparkle has the same
// thing, so code written for one reads naturally for the other.

/** What `new SparkleMeeting(parentNode, options)` takes. */
export interface SparkleMeetingOptions {
  /** The room name: 1 to 64 characters from A-Z a-z 0-9 _ - (the token's `room`). */
  room: string;
  /**
   * A room token your server minted with the API key `key` (docs/tokens.md). It is handed to
   * the meeting by postMessage, to the Sparkle origin only; it never appears in a URL.
   */
  token: string;
  /** The id of the API key whose `embed_origins` list this page's origin (not a secret).
   * Optional: by default the key the token names in its `iss` claim. */
  key?: string;
  /** The display name (overrides the token's `name`). Without one the pre-join screen asks. */
  name?: string;
  /** CSS width of the iframe; a number means pixels. Default "100%". */
  width?: number | string;
  /** CSS height of the iframe; a number means pixels. Default 720. */
  height?: number | string;
  /**
   * The Sparkle server: an origin ("https://meet.example.com") or a host name (https is
   * assumed). Default: the origin embed.js was loaded from.
   */
  domain?: string;
  /** Meeting options; unknown ones are ignored. */
  config?: SparkleConfig;
  /** The iframe's title (for screen readers). Default "Sparkle meeting". */
  title?: string;
  /** Called when the iframe has loaded (before the meeting is joined). */
  onload?: (event: Event) => void;
}

export interface SparkleConfig {
  /** Show the pre-join screen (camera preview, name) instead of joining at once. Default false. */
  prejoin?: boolean;
  /** Join with the microphone off. */
  startWithAudioMuted?: boolean;
  /** Join with the camera off. */
  startWithVideoMuted?: boolean;
}

/** Commands and their arguments: `meeting.executeCommand(name, ...args)`. */
export interface SparkleCommands {
  /** Leave the meeting (then videoConferenceLeft and readyToClose). */
  hangup: [];
  /** Mute or unmute one's microphone (errorOccurred `forbidden` if the host took `speak`). */
  toggleAudio: [];
  /** Camera on or off. */
  toggleVideo: [];
  /** Start or stop sharing a screen (needs the `screen_share` permission). */
  toggleShareScreen: [];
  /** Open or close the chat panel. */
  toggleChat: [];
  /** Send a chat line to everyone, or privately to `to` (a participant id, or "hosts"). */
  sendChatMessage: [message: string, to?: string];
  /** Raise or lower one's hand. */
  toggleRaiseHand: [];
  /** The tile grid is Sparkle's only layout: `true` is a no-op, `false` an `unsupported` error. */
  setTileView: [enabled: boolean];
  /** Before joining only: the name to join with (names cannot change in a meeting). */
  displayName: [name: string];
  /** Host: mute every non-host's microphone ("audio", default) or camera ("video"). */
  muteEveryone: [mediaType?: 'audio' | 'video'];
  /** Host: remove a participant. */
  kickParticipant: [participantId: string];
  /** Host: turn the waiting room on or off (toggles without an argument). */
  toggleLobby: [enabled?: boolean];
  /** Host: admit (`true`) or turn away (`false`) someone in the waiting room. */
  answerKnockingParticipant: [participantId: string, approved: boolean];
  /**
   * In the meeting, a host sets the room password (empty removes it). Before joining, after
   * passwordRequired: join with this password.
   */
  password: [password: string];
  /** Host: start recording the meeting. */
  startRecording: [options?: Record<string, unknown>];
  /** Host: stop the recording. */
  stopRecording: [];
  /** Show or hide captions; a host turning them on also starts the transcription. */
  toggleSubtitles: [];
  /** Host: end the meeting for everyone. */
  endConference: [];
}

export type SparkleCommandName = keyof SparkleCommands;

/** Events and their data: `meeting.addListener(name, (data) => ...)`. */
export interface SparkleEvents {
  /** We are in the meeting. `id` is our participant id. */
  videoConferenceJoined: { roomName: string; id: string; displayName: string; breakoutRoom: false };
  /** We left (`reason` "left"), a host ended the meeting ("ended"), the server stopped ("shutdown"), or a fatal error code put us out ("removed", "replaced", ...). */
  videoConferenceLeft: { roomName: string; reason: string };
  participantJoined: { id: string; displayName: string };
  participantLeft: { id: string };
  /** Someone was removed by a host (`local`: it was us). The protocol does not name the host. */
  participantKickedOut: { kicked: { id: string | null; local: boolean }; kicker: null };
  /** The loudest participant changed (`id` null: nobody speaks). */
  dominantSpeakerChanged: { id: string | null };
  /** Our microphone. */
  audioMuteStatusChanged: { muted: boolean };
  /** Our camera. */
  videoMuteStatusChanged: { muted: boolean };
  /** Our screen share. */
  screenSharingStatusChanged: { on: boolean; details: { sourceType?: 'screen' } };
  /** Anyone's hand, ours included: `handRaised` is its queue ticket (lower = raised earlier), 0 once lowered. */
  raiseHandUpdated: { id: string; handRaised: number };
  /** A chat line from someone else (ours are not echoed). `stamp`: Unix time in ms. */
  incomingMessage: {
    from: string | null;
    nick: string;
    privateMessage: boolean;
    message: string;
    stamp: number;
    file?: { id: string; name: string };
  };
  /** Hosts: someone waits in the waiting room; answer with answerKnockingParticipant. */
  knockingParticipant: { participant: { id: string; name: string } };
  /** The room has a password: answer with executeCommand('password', ...). */
  passwordRequired: Record<string, never>;
  /** The room's recording started, paused, resumed, stopped or failed. */
  recordingStatusChanged: {
    on: boolean;
    mode: 'file';
    state: 'recording' | 'paused' | 'stopped' | 'failed';
    error?: 'failed';
  };
  /** One transcribed utterance (while a host has transcription on). `start`/`end`: Unix s. */
  transcriptionChunkReceived: {
    data: {
      messageID: number;
      participant: { id: string | null; identity: string; name: string };
      final: string;
      start: number;
      end: number;
    };
  };
  /** The meeting is over for us: a good moment to call dispose(). */
  readyToClose: Record<string, never>;
  /**
   * Something failed: `name` is a protocol error code (docs/protocol.md, "Errors") or one of
   * not_joined, join_failed, unknown_command, unsupported, command_failed; `command` names
   * the command that caused it, when one did.
   */
  errorOccurred: { name: string; message: string; isFatal: boolean; command?: string };
}

export type SparkleEventName = keyof SparkleEvents;

export declare class SparkleMeeting {
  constructor(parentNode: Element, options: SparkleMeetingOptions);
  /** The Sparkle origin the meeting runs on. */
  readonly origin: string;
  readonly room: string;
  executeCommand<K extends SparkleCommandName>(name: K, ...args: SparkleCommands[K]): void;
  executeCommands(commands: { [K in SparkleCommandName]?: SparkleCommands[K] }): void;
  addListener<K extends SparkleEventName>(name: K, listener: (data: SparkleEvents[K]) => void): this;
  removeListener<K extends SparkleEventName>(name: K, listener: (data: SparkleEvents[K]) => void): this;
  removeAllListeners(name?: SparkleEventName): this;
  on<K extends SparkleEventName>(name: K, listener: (data: SparkleEvents[K]) => void): this;
  off<K extends SparkleEventName>(name: K, listener: (data: SparkleEvents[K]) => void): this;
  addEventListener<K extends SparkleEventName>(name: K, listener: (data: SparkleEvents[K]) => void): this;
  removeEventListener<K extends SparkleEventName>(name: K, listener: (data: SparkleEvents[K]) => void): this;
  /** The meeting's iframe (null after dispose()). */
  getIFrame(): HTMLIFrameElement | null;
  /** Removes the iframe (leaving the meeting) and every listener. */
  dispose(): void;
}

declare global {
  interface Window {
    SparkleMeeting: typeof SparkleMeeting;
  }
}
