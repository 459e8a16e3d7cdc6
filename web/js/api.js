// api.js: the page's one door to the REST API.
//
// The access token lives only in this module's memory (never in
// localStorage or sessionStorage); the refresh token is an HttpOnly cookie
// scoped to /v1/auth that this code never sees. A 401 from any call
// triggers one refresh through the cookie and one retry; when that fails
// too the session is over and the listeners of onSessionEnd() are told,
// so the router can show the login screen.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `http ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code || 'http_error';
  }
}

let accessToken = null;   // the Bearer token, memory only
let currentUser = null;   // the User object of the session
let refreshTimer = 0;     // renews the token before it expires
let refreshing = null;    // the refresh in flight, shared by all callers
const tokenListeners = new Set();  // told of every new access token
const endListeners = new Set();    // told when the session is over

// Renew at 80% of the token's life so a call rarely meets an expired one.
const RENEW_FRACTION = 0.8;

function takeTokens(body) {
  accessToken = body.access_token;
  currentUser = body.user || currentUser;
  clearTimeout(refreshTimer);
  const life = Number(body.expires_in) || 900;
  refreshTimer = setTimeout(() => { refresh().catch(() => {}); },
    life * 1000 * RENEW_FRACTION);
  for (const fn of tokenListeners) fn(accessToken);
}

function dropSession() {
  const had = accessToken !== null || currentUser !== null;
  accessToken = null;
  currentUser = null;
  clearTimeout(refreshTimer);
  if (had) for (const fn of endListeners) fn();
}

async function parse(res) {
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

async function errorOf(res) {
  const body = await parse(res).catch(() => null);
  const e = body && body.error ? body.error : {};
  return new ApiError(res.status, e.code, e.message);
}

// One HTTP call; `retry` false on the call made after a refresh.
async function call(method, path, body, retry = true) {
  const headers = { Accept: 'application/json' };
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  const init = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (res.status === 401 && retry && !path.startsWith('/v1/auth/')) {
    const err = await errorOf(res);
    // invalid_credentials judges a password in the body (a password
    // change), not the token: refreshing and sending it again would count
    // the wrong password twice, and a failed refresh would end a session
    // that is fine.
    if (err.code === 'invalid_credentials') throw err;
    if (await refresh()) return call(method, path, body, false);
    dropSession();
    throw err;
  }
  if (!res.ok) throw await errorOf(res);
  return parse(res);
}

export const api = {
  get: (path) => call('GET', path),
  post: (path, body) => call('POST', path, body === undefined ? {} : body),
  patch: (path, body) => call('PATCH', path, body),
  put: (path, body) => call('PUT', path, body),
  del: (path) => call('DELETE', path),
};

// Trades the refresh cookie for a new access token. Resolves true on
// success, false when there is no session (401) or it failed; concurrent
// callers share one request, since the cookie is single-use.
export function refresh() {
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      const res = await fetch('/v1/auth/refresh', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json',
          Accept: 'application/json' },
        body: '{}',
      });
      if (!res.ok) {
        // The server refused the cookie (none, used, revoked, the account
        // disabled): whatever session this page had is over. Other
        // failures (5xx, network) may pass, so the session is kept.
        if (res.status >= 400 && res.status < 500 && res.status !== 429) {
          dropSession();
        }
        return false;
      }
      const body = await parse(res);
      if (!body || !body.access_token) return false;
      takeTokens(body);
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

export function session() {
  return currentUser ? { user: currentUser } : null;
}

export function token() {
  return accessToken;
}

export function setUser(user) {
  currentUser = user;
}

export async function login(username, password) {
  const body = await call('POST', '/v1/auth/login',
    { username, password, session: 'cookie' }, false);
  takeTokens(body);
  return { user: currentUser };
}

export async function register(username, password) {
  await call('POST', '/v1/auth/register', { username, password }, false);
  return login(username, password);
}

// Revokes the session server-side (which also expires the cookie); the
// local state is dropped whatever the server said.
export async function logout() {
  try {
    await call('POST', '/v1/auth/logout', undefined, false);
  } catch {
    // the session may already be gone; the page forgets it anyway
  }
  dropSession();
}

// fn(token) on every new access token (the WebSocket re-authenticates).
export function onToken(fn) {
  tokenListeners.add(fn);
  return () => tokenListeners.delete(fn);
}

// fn() when the session ends (logout, or a refresh that failed).
export function onSessionEnd(fn) {
  endListeners.add(fn);
  return () => endListeners.delete(fn);
}
