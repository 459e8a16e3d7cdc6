// live.test.mjs - the page's live feed (/v1/ws): an answer started
// through the API on the same account streams into two open browser
// contexts (two devices), and a WebSocket dropped in the middle of an
// answer resumes from the last event the page saw, with no gap and no
// duplicate (the final text equals the stored one, and every text the
// page showed on the way was a prefix of it). The drop is made by
// playwright's WebSocket routing: the page's socket goes through the
// test, which closes it. Run by tests/integration/web-browser.bats.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, loginUi, newUser, shot, apiOk, api, messages,
  log, fold, words, until, watchStates, statesOf } from './lib.mjs';

let browser;
let acct;
before(async () => {
  browser = await launch();
  acct = await newUser('live');
});
after(async () => { await browser?.close(); });

const assistant = (page) => log(page).locator('article[data-role="assistant"]');

async function newConv(title) {
  const c = await apiOk('POST', '/v1/conversations', { title }, acct.token);
  return c.id;
}

// Starts an answer through the API, not waiting for it.
function startAnswer(conv, content) {
  return api('POST', `/v1/conversations/${conv}/messages`, { content },
    acct.token);
}

async function storedLast(conv) {
  const c = await apiOk('GET', `/v1/conversations/${conv}`, undefined, acct.token);
  return c.messages.at(-1);
}

test('an answer started through the API streams live into two devices', async () => {
  const conv = await newConv('live on two devices');
  const a = await openPage(browser);
  const b = await openPage(browser);
  try {
    for (const o of [a, b]) {
      await loginUi(o.page, acct.username, acct.password);
      await o.page.goto(`/c/${conv}`);
      await o.page.getByRole('textbox', { name: 'Message', exact: true }).waitFor();
      await watchStates(o.page);
    }
    const q = words(100, 'live');
    const done = startAnswer(conv, q);
    await assistant(b.page).last().and(b.page.locator('[data-state="streaming"]'))
      .waitFor().then(() => shot(b.page, 'live-second-device-streaming'), () => {});
    const r = await done;
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const last = await storedLast(conv);
    for (const o of [a, b]) {
      await assistant(o.page).last().and(o.page.locator('[data-state="done"]')).waitFor();
      // seen live: streaming first, not only the stored end
      assert.deepEqual((await statesOf(o.page, last.id)).map(([st]) => st),
        ['streaming', 'done']);
      const shown = await messages(o.page);
      assert.equal(shown.at(-1).id, last.id);
      assert.equal(shown.at(-1).text, fold(last.content));
      assert.equal(shown.at(-2).text, q);
      assert.deepEqual(o.seen.errors, []);
    }
    await shot(b.page, 'live-second-device-done');
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('a WebSocket dropped mid-answer resumes with no gap and no duplicate', async () => {
  const conv = await newConv('live through a drop');
  const o = await openPage(browser);
  const urls = [];            // every /v1/ws the page opened
  let current = null;         // the route of the open socket
  await o.context.routeWebSocket(/\/v1\/ws/, (ws) => {
    urls.push(ws.url());
    current = ws;
    ws.connectToServer();
  });
  try {
    await loginUi(o.page, acct.username, acct.password);
    await o.page.goto(`/c/${conv}`);
    await o.page.getByRole('textbox', { name: 'Message', exact: true }).waitFor();
    await until(() => urls.length >= 1, 5000, 'the page\'s WebSocket');
    const q = words(100, 'drop');
    const done = startAnswer(conv, q);
    const a = assistant(o.page).last();
    await until(async () => (await a.count()) > 0 &&
      (await a.innerText()).includes('drop10'), 10000, 'drop10 on the page');
    const opened = urls.length;
    await current.close({ code: 4000, reason: 'test drop' });
    // what the page shows while it reconnects and after: always a prefix
    const seen = [];
    const sample = setInterval(() => {
      messages(o.page).then((m) => seen.push(m.at(-1)?.text ?? '')).catch(() => {});
    }, 60);
    try {
      await until(() => urls.length > opened, 10000, 'a reconnection');
      await shot(o.page, 'live-resumed');
      assert.match(urls.at(-1), /[?&]last_event_id=\d+/,
        'the reconnection did not resume: ' +
        urls.at(-1).replace(/access_token=[^&]*/, 'access_token=…'));
      const r = await done;
      assert.equal(r.status, 201);
      await a.and(o.page.locator('[data-state="done"]')).waitFor({ timeout: 10000 });
    } finally {
      clearInterval(sample);
    }
    const last = await storedLast(conv);
    assert.equal(last.content, q);
    const shown = await messages(o.page);
    assert.equal(shown.at(-1).text, q);
    for (const t of seen) {
      assert.ok(q.startsWith(t), `the page showed a text that is no prefix: ${t.slice(-60)}`);
    }
    await shot(o.page, 'live-after-drop');
    assert.deepEqual(o.seen.errors, []);
  } finally {
    await o.context.close();
  }
});

// A page whose socket drops before any event came has no event id to
// resume from: unless chatd told it where it stood in the account's event
// log when the socket opened, it reconnects without last_event_id and
// what happened meanwhile (a conversation made on another device, a
// message in the open one) never shows.
test('a socket dropped before any event resumes from where it opened', async () => {
  const who = await newUser('fresh');
  const open = await apiOk('POST', '/v1/conversations', { title: 'opened before' },
    who.token);
  const o = await openPage(browser);
  let hold = false;           // refuse the page's sockets while set
  let current = null;         // the route of the open socket
  let upstream = null;        // its side towards the server
  let pongs = 0;              // answers to the test's own pings
  const events = [];          // event frames that reached the page
  const urls = [];
  await o.context.routeWebSocket(/\/v1\/ws/, (ws) => {
    urls.push(ws.url());
    if (hold) {
      ws.close({ code: 4000, reason: 'test: still down' });
      return;
    }
    current = ws;
    const server = ws.connectToServer();
    upstream = server;
    server.onMessage((m) => {
      const f = JSON.parse(m);
      if (f.type === 'pong' && f.ref === 'test') {
        pongs += 1;
        return;
      }
      // a sign-in from the browser is a new device: notifyd's alert
      // may come at any time, and would give the page a position; it
      // is not what this test is about, so the page never sees it
      if (f.type === 'notification') return;
      if (typeof f.id === 'string' && f.type !== 'ready') events.push(f.type);
      ws.send(m);
    });
  });
  try {
    await loginUi(o.page, who.username, who.password);
    await o.page.goto(`/c/${open.id}`);
    await o.page.getByRole('textbox', { name: 'Message', exact: true }).waitFor();
    await until(() => current !== null, 20000, 'the page\'s WebSocket');
    // chatd has the socket (a pong comes after anything it sent on open)
    const sock = current;
    upstream.send(JSON.stringify({ type: 'ping', ref: 'test' }));
    await until(() => pongs > 0, 20000, 'a pong');
    assert.deepEqual(events, [], 'the page saw an event before the drop');
    hold = true;
    const n = urls.length;
    await sock.close({ code: 4000, reason: 'test drop' });
    const other = await apiOk('POST', '/v1/conversations',
      { title: 'made while away' }, who.token);
    const r = await api('POST', `/v1/conversations/${open.id}/messages`,
      { content: 'sent while away' }, who.token);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    await until(() => urls.length > n, 20000, 'a refused reconnection');
    hold = false;
    await until(() => current !== sock, 30000, 'a reconnection');
    const nav = o.page.getByRole('navigation', { name: 'Conversations' });
    await nav.getByRole('link', { name: 'made while away', exact: true })
      .waitFor({ timeout: 20000 });
    assert.equal(await nav.locator(`a[href="/c/${other.id}"]`).count(), 1);
    const stored = (await apiOk('GET', `/v1/conversations/${open.id}`, undefined,
      who.token)).messages;
    assert.equal(stored.length, 2);
    await until(async () => {
      const shown = await messages(o.page);
      return shown.length === 2 && shown[0].text === 'sent while away' &&
        shown[1].id === stored[1].id && shown[1].text === fold(stored[1].content);
    }, 20000, 'the message and its answer in the chat');
    await shot(o.page, 'live-resumed-from-open');
    const last = urls.at(-1).replace(/access_token=[^&]*/, 'access_token=…');
    assert.ok(/[?&]last_event_id=\d+/.test(last),
      `the reconnection did not resume: ${last}`);
    assert.deepEqual(o.seen.errors, []);
  } finally {
    await o.context.close();
  }
});

// A reset (here asked for with a resume frame from an id chatd never
// kept) makes the sidebar read the list again, and its id is still a
// place to resume from: a drop right after it loses nothing either.
test('a reset refetches, and the socket resumes from it after a drop', async () => {
  const who = await newUser('reset');
  const o = await openPage(browser);
  let hold = false;           // refuse the page's sockets while set
  let swallow = false;        // keep chatd's frames from the page while set
  let current = null;
  let upstream = null;
  let pongs = 0;
  const swallowed = [];
  const urls = [];
  await o.context.routeWebSocket(/\/v1\/ws/, (ws) => {
    urls.push(ws.url());
    if (hold) {
      ws.close({ code: 4000, reason: 'test: still down' });
      return;
    }
    current = ws;
    const server = ws.connectToServer();
    upstream = server;
    server.onMessage((m) => {
      const f = JSON.parse(m);
      if (f.type === 'pong' && f.ref === 'test') pongs += 1;
      else if (swallow) swallowed.push(f);
      else ws.send(m);
    });
  });
  const nav = o.page.getByRole('navigation', { name: 'Conversations' });
  const link = (title) => nav.getByRole('link', { name: title, exact: true });
  try {
    await loginUi(o.page, who.username, who.password);
    await until(() => current !== null, 20000, 'the page\'s WebSocket');
    upstream.send(JSON.stringify({ type: 'ping', ref: 'test' }));
    await until(() => pongs > 0, 20000, 'a pong');
    // an event the page never gets, as if lost
    swallow = true;
    const lost = await apiOk('POST', '/v1/conversations', { title: 'lost live' },
      who.token);
    await until(() => swallowed.some((f) => f.type === 'conversation' &&
      f.data.id === lost.id), 20000, 'the swallowed event');
    swallow = false;
    upstream.send(JSON.stringify({ type: 'resume', last_event_id: '1' }));
    await link('lost live').waitFor({ timeout: 20000 });
    // the reset was the last frame; then a drop, and a conversation made
    const sock = current;
    hold = true;
    const n = urls.length;
    await sock.close({ code: 4000, reason: 'test drop' });
    await apiOk('POST', '/v1/conversations', { title: 'made after the reset' },
      who.token);
    await until(() => urls.length > n, 20000, 'a refused reconnection');
    hold = false;
    await until(() => current !== sock, 30000, 'a reconnection');
    await link('made after the reset').waitFor({ timeout: 20000 });
    assert.equal(await link('lost live').count(), 1);
    await shot(o.page, 'live-resumed-after-reset');
    assert.deepEqual(o.seen.errors, []);
  } finally {
    await o.context.close();
  }
});
