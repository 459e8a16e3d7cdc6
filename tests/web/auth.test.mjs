// auth.test.mjs - the page's response headers, register, log in, a reload
// that keeps the session (the refresh cookie), no token in any storage the
// page's scripts can read, log out, axe-core over the login and register
// screens, and the WebSocket refused to a foreign origin. Run by
// tests/integration/web-browser.bats.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, launch, openPage, shot, uniq, axe, storageText, registerUi,
  newUser, loginUi, api, until } from './lib.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; " +
  "img-src 'self' data:; connect-src 'self'; object-src 'none'; " +
  "base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

test('the page and a client-side route carry the security headers', async () => {
  for (const p of ['/', '/c/00000000-0000-0000-0000-000000000000', '/settings']) {
    const res = await fetch(BASE + p);
    assert.equal(res.status, 200, p);
    assert.match(res.headers.get('content-type'), /^text\/html/, p);
    assert.equal(res.headers.get('content-security-policy'), CSP, p);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff', p);
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer', p);
    assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin', p);
    const text = await res.text();
    assert.match(text, /<script type="module" src="\/js\//, p);
    assert.doesNotMatch(text, /<script(?![^>]*\bsrc=)[^>]*>/, `${p}: inline script`);
    assert.doesNotMatch(text, /\sstyle="/, `${p}: inline style`);
  }
  // the API keeps its JSON errors
  const r = await api('GET', '/v1/no-such-route');
  assert.equal(r.status, 404);
  assert.equal(typeof r.body.error?.code, 'string');
});

test('the login screen: fields, autocomplete, axe, a wrong password in an alert', async () => {
  const { page, seen, context } = await openPage(browser);
  try {
    await page.goto('/');
    const user = page.getByLabel('Username', { exact: true });
    const pass = page.getByLabel('Password', { exact: true });
    await user.waitFor();
    assert.equal(await user.getAttribute('name'), 'username');
    assert.equal(await user.getAttribute('autocomplete'), 'username');
    assert.equal(await pass.getAttribute('name'), 'password');
    assert.equal(await pass.getAttribute('autocomplete'), 'current-password');
    assert.equal(await pass.getAttribute('type'), 'password');
    await shot(page, 'login');
    await axe(page, 'login');

    await user.fill(uniq('nobody'));
    await pass.fill('not-the-password');
    await page.getByRole('button', { name: 'Log in', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: /\S/ }).waitFor();
    await shot(page, 'login-refused');

    await page.getByRole('button', { name: 'Create account', exact: true }).click();
    const np = page.getByLabel('Password', { exact: true });
    await page.getByRole('button', { name: 'Register', exact: true }).waitFor();
    assert.equal(await np.getAttribute('autocomplete'), 'new-password');
    await shot(page, 'register');
    await axe(page, 'register');
    assert.deepEqual(seen.errors, []);
  } finally {
    await context.close();
  }
});

test('register, reload still logged in, no token readable, log out', async () => {
  const { page, context, seen } = await openPage(browser);
  const username = uniq('reg');
  const password = `pw-${username}-secret`;
  try {
    let token = null;
    let leaked = null;   // an auth answer that carried a refresh token
    page.on('response', async (res) => {
      const u = new URL(res.url());
      if (!/^\/v1\/auth\/(login|refresh)$/.test(u.pathname) || res.status() !== 200) return;
      const b = await res.json().catch(() => null);
      if (b?.access_token) token = b.access_token;
      // the browser login mode: no refresh token in the body
      if (b && 'refresh_token' in b) leaked = u.pathname;
    });
    await registerUi(page, username, password);
    await shot(page, 'registered');
    assert.ok(token, 'the page got no access token from login');
    assert.equal(leaked, null, 'a refresh token in an answer body');

    // the refresh cookie: HttpOnly, Secure, SameSite=Strict, on /v1/auth
    const cookies = await context.cookies();
    assert.equal(cookies.length, 1, JSON.stringify(cookies));
    const c = cookies[0];
    // Chromium keeps a __Secure- cookie from http://127.0.0.1 (a
    // potentially trustworthy origin), so the prefix is in force
    assert.equal(c.name, '__Secure-chat_refresh');
    assert.ok(c.httpOnly && c.secure, JSON.stringify(c));
    assert.equal(c.sameSite, 'Strict');
    assert.equal(c.path, '/v1/auth');

    let stored = await storageText(page);
    assert.ok(!stored.includes(token), 'the access token is in storage');
    assert.ok(!stored.includes(c.value), 'the refresh token is readable');
    assert.doesNotMatch(stored, /eyJ[\w-]+\.[\w-]+\./, 'a JWT in storage');

    // a reload: the memory token is gone, the cookie brings a new one
    const first = token;
    await page.reload();
    await page.getByRole('button', { name: 'Log out', exact: true }).waitFor();
    assert.notEqual(token, first, 'no refresh after the reload');
    const rotated = (await context.cookies())[0];
    assert.notEqual(rotated.value, c.value, 'the refresh cookie was not rotated');
    stored = await storageText(page);
    assert.ok(!stored.includes(token) && !stored.includes(rotated.value));
    assert.equal(await page.evaluate(() => document.cookie), '');
    await shot(page, 'reloaded');

    // log out: login screen, the cookie gone, the session revoked
    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    await page.getByRole('button', { name: 'Log in', exact: true }).waitFor();
    assert.deepEqual(await context.cookies(), []);
    await until(async () => (await api('GET', '/v1/users/me', undefined,
      token)).status === 401, 3000, 'the access token to be revoked');
    await page.reload();
    await page.getByRole('button', { name: 'Log in', exact: true }).waitFor();
    await shot(page, 'logged-out');
    assert.equal(leaked, null, 'a refresh token in an answer body');
    assert.deepEqual(seen.errors, []);
  } finally {
    await context.close();
  }
});

test('a second log in on another device, then a cross-site refresh is refused', async () => {
  const { page, context } = await openPage(browser);
  const username = uniq('orig');
  const password = `pw-${username}-secret`;
  try {
    await api('POST', '/v1/auth/register', { username, password });
    await loginUi(page, username, password);
    const cookie = (await context.cookies())[0];
    // a cookie-authenticated call from a foreign Origin runs nothing
    const r = await api('POST', '/v1/auth/refresh', {}, undefined, {
      Cookie: `${cookie.name}=${cookie.value}`, Origin: 'https://evil.example' });
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'origin_refused');
    // and the cookie is still good for the page
    await page.reload();
    await page.getByRole('button', { name: 'Log out', exact: true }).waitFor();
  } finally {
    await context.close();
  }
});

test('a WebSocket opened from a foreign origin is refused, from the page accepted', async () => {
  // CSP off in this context: the page's connect-src 'self' would stop the
  // foreign socket in the browser, and the gateway's own check is tested
  const { page, context } = await openPage(browser, { bypassCSP: true });
  const u = await newUser('wso');
  const open = (url) => page.evaluate((to) => new Promise((resolve) => {
    const ws = new WebSocket(to);
    ws.onopen = () => { ws.close(); resolve('open'); };
    ws.onerror = () => resolve('refused');
  }), url);
  const target = `${BASE.replace(/^http/, 'ws')}/v1/ws?access_token=` +
    encodeURIComponent(u.token);
  const refused = [];
  page.on('websocket', (ws) => ws.on('socketerror', (e) => refused.push(String(e))));
  try {
    // the page's own origin
    await page.goto('/');
    assert.equal(await open(target), 'open');
    // the same server under another name is another origin
    await page.goto(`http://localhost:${new URL(BASE).port}/`);
    assert.equal(await open(target), 'refused');
    assert.match(refused.join('\n'), /403/, refused.join('\n'));
  } finally {
    await context.close();
  }
});
