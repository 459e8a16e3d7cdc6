// ws.js: the live feed of the account's events over /v1/ws.
//
// chatd sends every event of every conversation of the user to each of
// its sockets. This module keeps one socket open while logged in, hands
// frames to listeners by type (live.on), and after a drop reconnects with
// ?last_event_id=<the last id seen> so chatd replays exactly what was
// missed: no gap, no duplicate. The socket asks for a `ready` frame
// (?ready=1): its id is where the socket joined the account's event log,
// so a page that saw no event yet still resumes from there rather than
// losing what came during a drop. Ids are 64-bit decimal strings, beyond
// what a JS number holds exactly, so they are compared as BigInt. When
// the access token is renewed the socket is told in-band ({"type":"auth"})
// so it outlives the token it was opened with.

import { refresh, token, onToken } from './api.js';

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;
const PING_MS = 25000;   // keeps idle proxies from closing the socket

const listeners = new Map();  // type -> Set of fn(frame)
let sock = null;
let lastId = null;            // the last event (or ready) id, a decimal string
let wanted = false;           // start() called and not stop()ped
let backoff = BACKOFF_MIN_MS;
let retryTimer = 0;
let pingTimer = 0;
let offToken = null;
let openedAt = null;          // performance.now() when the socket opened

function emit(type, frame) {
  const set = listeners.get(type);
  if (set) for (const fn of [...set]) fn(frame);
  const all = listeners.get('*');
  if (all) for (const fn of [...all]) fn(frame);
}

function newer(id) {
  if (lastId === null) return true;
  try {
    return BigInt(id) > BigInt(lastId);
  } catch {
    return true;
  }
}

function onFrame(ev) {
  let frame;
  try {
    frame = JSON.parse(ev.data);
  } catch {
    return;
  }
  if (!frame || typeof frame.type !== 'string') return;
  if (typeof frame.id === 'string' && /^[0-9]{1,20}$/.test(frame.id)) {
    // A replayed event this page already had is dropped, so a listener
    // never sees the same event twice, even across reconnections.
    if (!newer(frame.id)) return;
    // a reset's id is a place to resume from too: every event after it
    // is newer (the screens refetch what came before)
    lastId = frame.id;
  }
  emit(frame.type, frame);
}

function scheduleReconnect() {
  clearTimeout(retryTimer);
  if (!wanted) return;
  const delay = backoff + Math.floor(Math.random() * backoff / 2);
  backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
  retryTimer = setTimeout(connect, delay);
}

async function onClose(ev) {
  clearInterval(pingTimer);
  sock = null;
  openedAt = null;
  emit('status', { type: 'status', data: { connected: false } });
  if (!wanted) return;
  // 4401: the token expired or the session was revoked. A refresh tells
  // which; if it fails, api.js ends the session and stop() follows.
  if (ev.code === 4401 || ev.code === 1008) {
    if (!(await refresh())) return;
  }
  scheduleReconnect();
}

function connect() {
  clearTimeout(retryTimer);
  const t = token();
  if (!wanted || sock || !t) return;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  let url = `${proto}//${location.host}/v1/ws?access_token=` +
    encodeURIComponent(t) + '&ready=1';
  if (lastId !== null) url += `&last_event_id=${lastId}`;
  let s;
  try {
    s = new WebSocket(url);
  } catch {
    scheduleReconnect();
    return;
  }
  sock = s;
  s.onopen = () => {
    backoff = BACKOFF_MIN_MS;
    openedAt = performance.now();
    pingTimer = setInterval(() => send({ type: 'ping' }), PING_MS);
    emit('status', { type: 'status', data: { connected: true } });
  };
  s.onmessage = onFrame;
  s.onclose = onClose;
}

// Back online: try now rather than at the end of the backoff.
function onOnline() {
  backoff = BACKOFF_MIN_MS;
  connect();
}

// Sends a client frame; false when the socket is not open.
function send(frame) {
  if (!sock || sock.readyState !== WebSocket.OPEN) return false;
  sock.send(JSON.stringify(frame));
  return true;
}

export const live = {
  // fn(frame) for each frame of that type ('*' for all; 'status' for
  // {connected}); returns the function that removes it.
  on(type, fn) {
    if (!listeners.has(type)) listeners.set(type, new Set());
    listeners.get(type).add(fn);
    return () => listeners.get(type).delete(fn);
  },
  send,
  connected: () => sock !== null && sock.readyState === WebSocket.OPEN,
  lastEventId: () => lastId,
  // performance.now() when the open socket opened; null while closed
  openedAt: () => openedAt,
  start() {
    if (wanted) return;
    wanted = true;
    window.addEventListener('online', onOnline);
    offToken = onToken((t) => {
      if (!send({ type: 'auth', token: t })) connect();
    });
    connect();
  },
  stop() {
    wanted = false;
    window.removeEventListener('online', onOnline);
    clearTimeout(retryTimer);
    clearInterval(pingTimer);
    if (offToken) offToken();
    offToken = null;
    lastId = null;
    if (sock) sock.close(1000);
    sock = null;
  },
  // Drops the socket as a network failure would (for tests and for the
  // "offline" event); the reconnection resumes from the last id.
  drop() {
    if (sock) sock.close(4000, 'dropped');
  },
};
