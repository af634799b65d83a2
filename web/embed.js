/*
 * Sparkle embed snippet (docs/embedding.md; types in embed.d.ts).
 *
 *   <script src="https://sparkle.example/embed.js"></script>
 *   const meeting = new SparkleMeeting(document.getElementById('call'), {
 *     room: 'daily-standup', key: 'APIxxxx', token: '<minted by your server>', name: 'Ada',
 *   });
 *   meeting.addListener('videoConferenceJoined', (e) => console.log('in', e.roomName));
 *   meeting.executeCommand('toggleAudio');
 *
 * A plain script (no modules, no build step): it defines window.SparkleMeeting. The meeting
 * runs in an iframe on the Sparkle origin (the origin this script was loaded from, or
 * `domain`), at /embed/<room>?key=<API key id>. The key id is public; the room token is not,
 * so it never goes into a URL (not even the fragment): once the iframe says it is ready, the
 * token is posted to that iframe's window only, with the Sparkle origin as targetOrigin, so a
 * frame that navigated elsewhere never receives it. Messages are accepted only from that
 * iframe's window and the Sparkle origin; the iframe in turn accepts them only from its
 * parent and from the origins the API key allows (web/js/embed-bridge.js).
 */
(function () {
  'use strict';

  var ROOM_RE = /^[A-Za-z0-9_-]{1,64}$/;
  var ALLOW = 'camera; microphone; display-capture; autoplay; clipboard-write';
  var DEFAULT_WIDTH = '100%';
  var DEFAULT_HEIGHT = 720;
  var script = document.currentScript;
  var scriptOrigin = script && script.src ? new URL(script.src, location.href).origin : null;

  function originOf(domain) {
    if (!domain) return scriptOrigin;
    var text = String(domain);
    // A bare host name (as Jitsi's `domain` option) means https.
    var url = new URL(/^https?:\/\//i.test(text) ? text : 'https://' + text);
    return url.origin;
  }

  function size(value, fallback) {
    var v = value === undefined || value === null || value === '' ? fallback : value;
    return typeof v === 'number' || /^\d+$/.test(String(v)) ? v + 'px' : String(v);
  }

  // The API key id a room token names in its `iss` claim (not a secret, and not verified
  // here: the server verifies the token; this only picks the embed page of that key), so
  // `key` may be left out as in Jitsi's {room, jwt} options.
  function keyOfToken(token) {
    try {
      var part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      var iss = JSON.parse(atob(part + '==='.slice((part.length + 3) % 4))).iss;
      return typeof iss === 'string' && /^[A-Za-z0-9_-]{1,128}$/.test(iss) ? iss : null;
    } catch (e) {
      return null;
    }
  }

  function SparkleMeeting(parentNode, options) {
    if (!(this instanceof SparkleMeeting)) throw new TypeError('use: new SparkleMeeting(parentNode, options)');
    var opts = options || {};
    if (!parentNode || typeof parentNode.appendChild !== 'function') throw new TypeError('SparkleMeeting: parentNode must be a DOM element');
    if (typeof opts.room !== 'string' || !ROOM_RE.test(opts.room)) throw new TypeError('SparkleMeeting: room must be 1 to 64 characters from A-Z a-z 0-9 _ -');
    if (typeof opts.token !== 'string' || !opts.token) throw new TypeError('SparkleMeeting: token is required (mint it on your server)');
    var key = typeof opts.key === 'string' && opts.key ? opts.key : keyOfToken(opts.token);
    if (!key) throw new TypeError('SparkleMeeting: key (your API key id) is required when the token does not name it');
    var origin = originOf(opts.domain);
    if (!origin) throw new TypeError('SparkleMeeting: cannot tell the Sparkle origin; pass `domain`');

    this.origin = origin;
    this.room = opts.room;
    this._token = opts.token;
    this._name = typeof opts.name === 'string' ? opts.name : null;
    this._config = opts.config && typeof opts.config === 'object' ? opts.config : {};
    this._listeners = {};
    this._queue = []; // commands sent before the iframe was ready
    this._ready = false;

    var iframe = document.createElement('iframe');
    iframe.src = origin + '/embed/' + encodeURIComponent(opts.room) + '?key=' + encodeURIComponent(key);
    iframe.allow = ALLOW;
    iframe.allowFullscreen = true;
    iframe.setAttribute('allowfullscreen', '');
    // The meeting page's URL (room and key) is nobody else's business.
    iframe.referrerPolicy = 'no-referrer';
    iframe.title = opts.title || 'Sparkle meeting';
    iframe.name = 'sparkle-' + opts.room;
    iframe.style.border = '0';
    iframe.style.width = size(opts.width, DEFAULT_WIDTH);
    iframe.style.height = size(opts.height, DEFAULT_HEIGHT);
    this._iframe = iframe;

    var self = this;
    this._onMessage = function (event) { self._receive(event); };
    // Listening before the iframe exists: its `ready` cannot be missed.
    window.addEventListener('message', this._onMessage);
    parentNode.appendChild(iframe);
    if (typeof opts.onload === 'function') iframe.addEventListener('load', opts.onload);
  }

  SparkleMeeting.prototype._receive = function (event) {
    var iframe = this._iframe;
    // Only our own iframe's window, and only while it shows the Sparkle origin.
    if (!iframe || event.source !== iframe.contentWindow || event.origin !== this.origin) return;
    var data = event.data;
    if (!data || typeof data !== 'object' || typeof data.sparkle !== 'string') return;
    if (data.sparkle === 'ready') {
      this._post({ sparkle: 'init', token: this._token, name: this._name, config: this._config });
      this._ready = true;
      var queued = this._queue;
      this._queue = [];
      for (var i = 0; i < queued.length; i += 1) this._post(queued[i]);
    } else if (data.sparkle === 'event' && typeof data.name === 'string') {
      this._emit(data.name, data.data === undefined ? {} : data.data);
    }
  };

  SparkleMeeting.prototype._post = function (message) {
    var win = this._iframe && this._iframe.contentWindow;
    // targetOrigin: the browser drops the message unless the frame still shows Sparkle.
    if (win) win.postMessage(message, this.origin);
  };

  SparkleMeeting.prototype._emit = function (name, data) {
    var list = (this._listeners[name] || []).slice();
    for (var i = 0; i < list.length; i += 1) {
      try {
        list[i].call(this, data);
      } catch (err) {
        // One listener's bug must not cost the others their event.
        setTimeout(function () { throw err; });
      }
    }
  };

  /** Runs a command in the meeting, e.g. executeCommand('sendChatMessage', 'hello'). */
  SparkleMeeting.prototype.executeCommand = function (name) {
    if (typeof name !== 'string') throw new TypeError('executeCommand: the command name must be a string');
    var args = Array.prototype.slice.call(arguments, 1);
    var message = { sparkle: 'command', name: name, args: args };
    if (!this._iframe) return;
    if (this._ready) this._post(message);
    else this._queue.push(message);
  };

  /** Several at once: executeCommands({toggleAudio: [], sendChatMessage: ['hi']}). */
  SparkleMeeting.prototype.executeCommands = function (commands) {
    var names = Object.keys(commands || {});
    for (var i = 0; i < names.length; i += 1) {
      var args = commands[names[i]];
      this.executeCommand.apply(this, [names[i]].concat(Array.isArray(args) ? args : [args]));
    }
  };

  SparkleMeeting.prototype.addListener = function (name, fn) {
    if (typeof fn !== 'function') throw new TypeError('addListener: the listener must be a function');
    (this._listeners[name] = this._listeners[name] || []).push(fn);
    return this;
  };

  SparkleMeeting.prototype.removeListener = function (name, fn) {
    var list = this._listeners[name];
    if (!list) return this;
    var at = list.indexOf(fn);
    if (at >= 0) list.splice(at, 1);
    return this;
  };

  SparkleMeeting.prototype.removeAllListeners = function (name) {
    if (name === undefined) this._listeners = {};
    else delete this._listeners[name];
    return this;
  };

  SparkleMeeting.prototype.on = SparkleMeeting.prototype.addListener;
  SparkleMeeting.prototype.off = SparkleMeeting.prototype.removeListener;
  SparkleMeeting.prototype.addEventListener = SparkleMeeting.prototype.addListener;
  SparkleMeeting.prototype.removeEventListener = SparkleMeeting.prototype.removeListener;

  SparkleMeeting.prototype.getIFrame = function () {
    return this._iframe;
  };

  /** Removes the iframe (which ends the participation) and every listener. */
  SparkleMeeting.prototype.dispose = function () {
    window.removeEventListener('message', this._onMessage);
    if (this._iframe) this._iframe.remove();
    this._iframe = null;
    this._listeners = {};
    this._queue = [];
    this._token = null;
  };

  window.SparkleMeeting = SparkleMeeting;
})();
