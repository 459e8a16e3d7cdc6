// notifications.test.mjs - in-app notifications on the web page (issue
// 15): a notification made through the API (an API key created, an
// admin's broadcast) appears live, with the count, on two pages of its
// user and not on another user's; reading one lowers the count and the
// server agrees; "Mark all read"; "Show older" pages; a socket that was
// down catches up; a finished answer's notification opens its
// conversation; hostile data (a user agent, a key's name) shows as
// text and runs nothing; the channels per category round-trip through
// the settings, and security's in-app channel cannot be switched off
// (the server's 400 is shown); a guest, whom notifyd refuses, meets no
// error. axe-core over the open panel and the settings section. Run by
// tests/integration/web-notifications.bats.
//
// Every account whose counts are checked signs in first from the
// browser, so the browser's user agent is its known device; the test's
// own API logins send that user agent too, so no "New sign-in"
// notification appears unasked and every count is exact.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, launch, openPage, loginUi, loggedIn, shot, axe, api, apiOk,
  uniq, admin, loginApi, until, words } from './lib.mjs';

// Steps that cross daemons (userd -> event backbone -> notifyd -> chatd
// -> the socket): generous, CI runs the stack under the sanitizers.
const CROSS = 30000;

let browser;
let alice;   // two pages: alice.o and a2
let a2;
let bob;
// The accounts and their pages are made here, out of the tests' time
// limit (node --test-timeout), which a slow sanitizer run would eat.
before(async () => {
  browser = await launch();
  alice = await browserUser('nta');
  a2 = await loggedIn(browser, alice);
  bob = await browserUser('ntb');
});
after(async () => { await browser?.close(); });

const button = (page) => page.getByRole('button', { name: /^Notifications \d+ unread$/ });
const panel = (page) => page.locator('#notif-panel');
const items = (page) => panel(page).locator('li.notif-item');

// An account registered through the API whose first sign-in is a
// browser page: {username, password, token, ua, o (the page)}.
async function browserUser(prefix) {
  const username = uniq(prefix);
  const password = `pw-${username}-secret`;
  await apiOk('POST', '/v1/auth/register', { username, password });
  const o = await openPage(browser);
  await loginUi(o.page, username, password);
  const ua = await o.page.evaluate(() => navigator.userAgent);
  const token = await apiLogin(username, password, ua);
  return { username, password, token, ua, o };
}

async function apiLogin(username, password, ua) {
  const r = await api('POST', '/v1/auth/login', { username, password },
    undefined, { 'User-Agent': ua });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.access_token;
}

// The button's accessible name says the count.
async function waitCount(page, n) {
  const want = `Notifications ${n} unread`;
  try {
    await page.getByRole('button', { name: want, exact: true })
      .waitFor({ timeout: CROSS });
  } catch {
    const names = await button(page).evaluateAll((bs) => bs.map((b) => b.textContent));
    throw new Error(`no button "${want}" on the page: ${JSON.stringify(names)}`);
  }
}

async function serverUnread(token) {
  return (await apiOk('GET', '/v1/notifications?limit=1', undefined, token)).unread;
}

async function openPanel(page) {
  if (await panel(page).isHidden()) await button(page).click();
  await panel(page).waitFor();
  await until(async () => (await items(page).count()) > 0 ||
    await panel(page).getByText('No notifications.', { exact: true }).isVisible(),
  CROSS, 'the panel loaded');
}

// The names of the keys the panel's items name, top to bottom.
async function keyNames(page) {
  return items(page).evaluateAll((lis) => lis.map((li) => {
    const dt = [...li.querySelectorAll('dt')].find((d) => d.textContent === 'Key name');
    return dt ? dt.nextElementSibling.textContent : null;
  }));
}

test('an API key made through the API shows live on both pages of its user only', async () => {
  for (const p of [alice.o.page, a2.page, bob.o.page]) await waitCount(p, 0);
  // an empty panel says so
  await openPanel(bob.o.page);
  await panel(bob.o.page).getByText('No notifications.', { exact: true })
    .waitFor({ timeout: CROSS });
  await shot(bob.o.page, 'notifications-empty');
  await axe(bob.o.page, 'the empty notifications panel');

  await apiOk('POST', '/v1/apikeys', { name: 'live key' }, alice.token);
  for (const p of [alice.o.page, a2.page]) {
    await waitCount(p, 1);
    // said once to screen readers
    await until(async () => (await p.locator('.notif [aria-live="polite"]')
      .textContent()) === 'New notification: API key created', CROSS,
    'the announcement');
  }
  await openPanel(alice.o.page);
  const first = items(alice.o.page).first();
  assert.equal(await first.getAttribute('data-read'), 'false');
  await first.getByRole('button', { name: 'API key created (unread)', exact: true }).waitFor();
  assert.deepEqual(await keyNames(alice.o.page), ['live key']);
  await shot(alice.o.page, 'notifications-panel');
  await axe(alice.o.page, 'the notifications panel');
  // Esc closes it and gives the focus back to the button
  await alice.o.page.keyboard.press('Escape');
  await panel(alice.o.page).waitFor({ state: 'hidden' });
  assert.equal(await button(alice.o.page).evaluate((b) => b === document.activeElement),
    true);
  assert.equal(await button(alice.o.page).getAttribute('aria-expanded'), 'false');

  // bob's page got nothing of alice's, also once his own arrived
  await apiOk('POST', '/v1/apikeys', { name: 'bob key' }, bob.token);
  await waitCount(bob.o.page, 1);
  assert.deepEqual(await keyNames(bob.o.page), ['bob key']);
  assert.equal(await items(bob.o.page).count(), 1);
  await waitCount(alice.o.page, 1);
  for (const o of [alice.o, a2, bob.o]) assert.deepEqual(o.seen.errors, []);
});

test('reading one lowers the count, mark all read, the server agrees; broadcasts', async () => {
  const { page } = alice.o;
  await apiOk('POST', '/v1/apikeys', { name: 'k2' }, alice.token);
  await apiOk('POST', '/v1/apikeys', { name: 'k3' }, alice.token);
  await waitCount(page, 3);
  await openPanel(page);
  assert.deepEqual(await keyNames(page), ['k3', 'k2', 'live key']);
  const k2 = items(page).nth(1);
  await k2.getByRole('button').click();
  await waitCount(page, 2);
  assert.equal(await k2.getAttribute('data-read'), 'true');
  await k2.getByRole('button', { name: 'API key created', exact: true }).waitFor();
  await until(async () => (await serverUnread(alice.token)) === 2, CROSS,
    'the server counts 2 unread');
  const listed = await apiOk('GET', '/v1/notifications', undefined, alice.token);
  assert.deepEqual(listed.data.map((n) => [n.data.name, n.read]),
    [['k3', false], ['k2', true], ['live key', false]]);

  // the other page has no frame for a read; opening its panel refetches
  await openPanel(a2.page);
  await waitCount(a2.page, 2);

  await page.getByRole('button', { name: 'Mark all read', exact: true }).click();
  await waitCount(page, 0);
  assert.equal(await items(page).locator('[data-read="false"]').count(), 0);
  assert.equal(await serverUnread(alice.token), 0);
  await shot(page, 'notifications-all-read');

  // an admin's broadcast reaches every open page, bob's too; the page
  // that did not see the reads takes the server's count with it
  const root = admin();
  const adm = await loginApi(root.username, root.password);
  await apiOk('POST', '/v1/admin/broadcast', { text: 'Maintenance at noon' },
    adm.access_token);
  await waitCount(page, 1);
  await waitCount(a2.page, 1);
  await waitCount(bob.o.page, 2);
  const top = items(page).first();
  assert.equal(await top.getAttribute('data-category'), 'broadcast');
  assert.equal(await top.locator('.notif-body').textContent(), 'Maintenance at noon');
  await top.getByRole('button', { name: 'Announcement (unread)', exact: true }).waitFor();
  await a2.context.close();
});

test('"Show older" pages back, newest first, no duplicate', async () => {
  const { page } = alice.o;
  // 4 so far (3 keys, a broadcast); 18 more make 22, two pages of 20
  const made = [];
  for (let i = 1; i <= 18; i++) {
    made.push(`page key ${i}`);
    await apiOk('POST', '/v1/apikeys', { name: `page key ${i}` }, alice.token);
  }
  await waitCount(page, 19);
  await page.reload();
  await waitCount(page, 19);
  await openPanel(page);
  await until(async () => (await items(page).count()) === 20, CROSS, '20 items');
  const older = page.getByRole('button', { name: 'Show older', exact: true });
  await older.click();
  await until(async () => (await items(page).count()) === 22, CROSS, '22 items');
  assert.equal(await older.isVisible(), false);
  const ids = await items(page).evaluateAll((lis) => lis.map((li) => li.dataset.id));
  assert.equal(new Set(ids).size, 22);
  assert.deepEqual(ids, [...ids].sort().reverse());
  const names = (await keyNames(page)).filter((n) => n !== null);
  assert.deepEqual(names, [...made.reverse(), 'k3', 'k2', 'live key']);
});

test('a socket that was down catches up when it is back', async () => {
  const o = await openPage(browser);
  let hold = false;     // refuse the page's sockets while set
  let current = null;
  let opened = 0;
  await o.context.routeWebSocket(/\/v1\/ws/, (ws) => {
    opened += 1;
    if (hold) {
      ws.close({ code: 4000, reason: 'test: still down' });
      return;
    }
    current = ws;
    ws.connectToServer();
  });
  try {
    await loginUi(o.page, alice.username, alice.password);
    await until(() => current !== null, CROSS, 'the page\'s WebSocket');
    const was = await serverUnread(alice.token);
    await waitCount(o.page, was);
    hold = true;
    const n = opened;
    await current.close({ code: 4000, reason: 'test drop' });
    await apiOk('POST', '/v1/apikeys', { name: 'while away' }, alice.token);
    await until(async () => (await serverUnread(alice.token)) === was + 1,
      CROSS, 'notifyd stored it');
    await until(() => opened > n, CROSS, 'a refused reconnection');
    hold = false;
    await waitCount(o.page, was + 1);
    await openPanel(o.page);
    assert.equal((await keyNames(o.page))[0], 'while away');
    assert.deepEqual(o.seen.errors, []);
  } finally {
    await o.context.close();
  }
});

// An answer of 120 echo words (20 ms each: web-notifications.bats sets
// aid.echo_delay_ms) sent in the SSE form by a client that leaves at its
// first delta: the answer ends with none of the user's clients there and
// takes more than notifyd.long_generation_ms (1500 ms in the file).
async function answerAway(token, conv) {
  const ctl = new AbortController();
  const res = await fetch(`${BASE}/v1/conversations/${conv}/messages`, {
    method: 'POST', signal: ctl.signal,
    headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream',
      'Content-Type': 'application/json' },
    body: JSON.stringify({ content: words(120, 'away') }),
  });
  assert.ok(res.ok, `the answer was refused: ${res.status}`);
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let text = '';
  while (!/^event: delta/m.test(text)) {
    const { value, done } = await reader.read();
    assert.ok(!done, `the stream ended before a delta: ${text}`);
    text += dec.decode(value, { stream: true });
  }
  ctl.abort();
}

test('a finished answer\'s notification opens its conversation', async () => {
  // no page of this account is open while the answer runs
  const username = uniq('ntw');
  const password = `pw-${username}-secret`;
  await apiOk('POST', '/v1/auth/register', { username, password });
  const { access_token: token } = await loginApi(username, password);
  const conv = (await apiOk('POST', '/v1/conversations', { title: 'away chat' },
    token)).id;
  await answerAway(token, conv);
  await until(async () => (await apiOk('GET', '/v1/notifications', undefined,
    token)).data.some((n) => n.kind === 'generation_finished'), CROSS,
  'notifyd made "Answer ready"');
  const o = await openPage(browser);
  try {
    await loginUi(o.page, username, password);
    await openPanel(o.page);
    const item = items(o.page).filter({ has: o.page.getByRole('button',
      { name: 'Answer ready (unread)', exact: true }) });
    await item.waitFor({ timeout: CROSS });
    assert.equal(await item.getAttribute('data-category'), 'generation');
    await item.getByRole('button').click();
    await o.page.waitForURL(new RegExp(`/c/${conv}$`));
    assert.equal(await panel(o.page).isHidden(), true);
    // read on the server too
    await until(async () => (await apiOk('GET', '/v1/notifications', undefined,
      token)).data.find((n) => n.kind === 'generation_finished').read, CROSS,
    'the server has it read');
    assert.deepEqual(o.seen.errors, []);
  } finally {
    await o.context.close();
  }
});

test('hostile data shows as text and runs nothing', async () => {
  const carol = await browserUser('ntx');
  const { page } = carol.o;
  await waitCount(page, 0);
  const ua = '<img src=x onerror="window.__pwned=\'ua\'">';
  const key = '<script>window.__pwned="key"</script><b>bold</b>';
  // a sign-in from a new "device": its user agent is the notification's data
  await apiLogin(carol.username, carol.password, ua);
  await apiOk('POST', '/v1/apikeys', { name: key }, carol.token);
  await waitCount(page, 2);
  await openPanel(page);
  await until(async () => (await items(page).count()) === 2, CROSS, '2 items');
  const dds = await panel(page).locator('dd').allTextContents();
  assert.ok(dds.includes(ua), `the user agent as text: ${JSON.stringify(dds)}`);
  assert.ok(dds.includes(key), `the key name as text: ${JSON.stringify(dds)}`);
  assert.equal(await panel(page).locator('img, script, b').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.deepEqual(carol.o.seen.dialogs, []);
  assert.deepEqual(carol.o.seen.errors, []);
  await shot(page, 'notifications-hostile');
  await carol.o.context.close();
});

test('settings: channels per category round-trip; security stays on', async () => {
  const { page } = bob.o;
  await page.getByRole('button', { name: 'Settings', exact: true }).click();
  await page.waitForURL(/\/settings$/);
  const sec = page.getByRole('region', { name: 'Notifications', exact: true })
    .filter({ has: page.getByRole('button', { name: 'Save notification preferences' }) });
  await sec.getByRole('heading', { name: 'Notifications', exact: true }).waitFor();
  const box = (name) => sec.getByRole('checkbox', { name, exact: true });
  await box('Security alerts: In-app').waitFor({ timeout: CROSS });
  assert.equal(await box('Security alerts: In-app').isChecked(), true);
  assert.equal(await box('Security alerts: In-app').isDisabled(), true);
  assert.match(await box('Security alerts: In-app').evaluate((b) =>
    document.getElementById(b.getAttribute('aria-describedby')).textContent),
  /cannot be switched off/);
  assert.equal(await box('Account: In-app').isChecked(), true);
  assert.equal(await box('Account: Email').isChecked(), false);
  await shot(page, 'notifications-settings');
  await axe(page, 'the settings\' notifications section');

  await box('Account: In-app').uncheck();
  await box('Account: Email').check();
  await box('Announcements: Webhook').check();
  await sec.getByRole('button', { name: 'Save notification preferences' }).click();
  await sec.getByRole('status').filter({ hasText: 'Notification preferences saved.' })
    .waitFor({ timeout: CROSS });
  const stored = (await apiOk('GET', '/v1/notifications/preferences', undefined,
    bob.token)).preferences;
  assert.deepEqual(stored.account, { in_app: false, email: true, webhook: false,
    locked: false });
  assert.equal(stored.broadcast.webhook, true);
  assert.equal(stored.security.in_app, true);
  await page.reload();
  await box('Account: Email').waitFor({ timeout: CROSS });
  await until(async () => (await box('Account: Email').isChecked()) &&
    !(await box('Account: In-app').isChecked()), CROSS, 'the stored channels shown');

  // forced on the page, the server refuses; its error is shown, nothing changed
  await box('Security alerts: In-app').evaluate((b) => { b.disabled = false; });
  await box('Security alerts: In-app').uncheck();
  await box('Account: In-app').check();
  await sec.getByRole('button', { name: 'Save notification preferences' }).click();
  const alert = sec.getByRole('alert');
  await alert.waitFor({ timeout: CROSS });
  assert.match(await alert.textContent(), /cannot be switched off.*invalid_field/);
  const after = (await apiOk('GET', '/v1/notifications/preferences', undefined,
    bob.token)).preferences;
  assert.equal(after.security.in_app, true);
  assert.equal(after.account.in_app, false);
  await shot(page, 'notifications-settings-refused');
  assert.deepEqual(bob.o.seen.errors, []);
});

test('a guest has no notifications button and is told so in the settings', async () => {
  const root = admin();
  const boss = await loginApi(root.username, root.password);
  const acct = { username: uniq('ntg'), password: 'guest-password-1' };
  await apiOk('POST', '/v1/admin/users', { ...acct, role: 'guest' },
    boss.access_token);
  const o = await loggedIn(browser, acct);
  try {
    const { page } = o;
    await page.getByRole('button', { name: 'Settings', exact: true }).click();
    await page.waitForURL(/\/settings$/);
    const sec = page.getByRole('region', { name: 'Notifications', exact: true });
    await sec.getByText('Guest accounts get no notifications.').waitFor({ timeout: CROSS });
    assert.equal(await sec.getByRole('checkbox').count(), 0);
    await page.getByText('This device', { exact: true }).waitFor({ timeout: CROSS });
    assert.equal(await page.getByRole('button', { name: /^Notifications/ }).count(), 0);
    assert.equal(await page.getByRole('alert').count(), 0);
    assert.deepEqual(o.seen.errors, []);
  } finally {
    await o.context.close();
  }
});
