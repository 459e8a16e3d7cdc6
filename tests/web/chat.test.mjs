// chat.test.mjs - the chat pane: send and watch the answer stream
// (data-state streaming → done, the text the API stored), stop,
// regenerate, edit a question and move between branches with the arrows,
// then a reload that finds the history; an answer that fails upstream
// shown as an error, plainly, and one cut by a restart of chatd shown as
// interrupted; axe-core over the chat screen.
// The stack's model is aid's echo (10 ms a word): the answer is the
// question's words. Run by tests/integration/web-browser.bats.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, loggedIn, newUser, shot, axe, apiOk, messages, log, fold,
  words, send, convId, until, watchStates, statesOf } from './lib.mjs';

let browser;
let acct;
let o;          // {page, context, seen} of the account, kept across steps
let conv;       // the conversation the steps build
before(async () => {
  browser = await launch();
  acct = await newUser('chat');
  o = await loggedIn(browser, acct);
});
after(async () => { await browser?.close(); });

const assistant = (page) => log(page).locator('article[data-role="assistant"]');
const user = (page) => log(page).locator('article[data-role="user"]');

// The stored branch of the conversation, root first.
async function stored() {
  const c = await apiOk('GET', `/v1/conversations/${conv}`, undefined, acct.token);
  return c.messages;
}

test('send: the answer streams, then is done with the stored text', async () => {
  const { page } = o;
  await page.getByRole('button', { name: 'New chat', exact: true }).click();
  await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor();
  await shot(page, 'chat-empty');
  await watchStates(page);
  const q = words(60, 'hello');
  await send(page, q);
  const a = assistant(page).last();
  await a.and(page.locator('[data-state="streaming"]')).waitFor()
    .then(() => shot(page, 'chat-streaming'), () => {});
  await a.and(page.locator('[data-state="done"]')).waitFor({ timeout: 10000 });
  conv = await convId(page);
  const msgs = await stored();
  assert.equal(msgs.length, 2);
  assert.equal(msgs[1].status, 'complete');
  assert.equal(msgs[1].content, q);
  // streaming (with a Stop button), then done; then the Stop button goes
  const states = await statesOf(page, msgs[1].id);
  assert.deepEqual([...new Set(states.map(([st]) => st))], ['streaming', 'done']);
  assert.ok(states.some(([st, stop]) => st === 'streaming' && stop),
    'no Stop button while streaming');
  await page.getByRole('button', { name: 'Stop', exact: true }).waitFor({ state: 'detached' });
  const shown = await messages(page);
  assert.deepEqual(shown.map((m) => [m.role, m.id, m.state]),
    [['user', msgs[0].id, 'done'], ['assistant', msgs[1].id, 'done']]);
  assert.equal(shown[0].text, q);
  assert.equal(shown[1].text, fold(msgs[1].content));
  // the conversation is in the sidebar, a link to it
  const nav = page.getByRole('navigation', { name: 'Conversations' });
  await nav.locator(`a[href="/c/${conv}"]`).waitFor();
  await shot(page, 'chat-done');
  await axe(page, 'chat');
});

test('stop: the answer ends stopped, what was written is kept', async () => {
  const { page } = o;
  await send(page, words(300, 'long'));
  const a = assistant(page).last();
  await a.and(page.locator('[data-state="streaming"]')).waitFor();
  // let a few words arrive, then stop
  await until(async () => (await a.innerText()).includes('long3'), 5000, 'words');
  await page.getByRole('button', { name: 'Stop', exact: true }).click();
  await a.and(page.locator('[data-state="stopped"]')).waitFor();
  await shot(page, 'chat-stopped');
  const msgs = await stored();
  const last = msgs.at(-1);
  assert.equal(last.status, 'stopped');
  assert.ok(last.content.length > 0 && !last.content.includes('long300'),
    `stopped text: ${last.content.slice(-40)}`);
  const shown = await messages(page);
  assert.equal(shown.at(-1).text, fold(last.content));
  assert.equal(await page.getByRole('button', { name: 'Stop', exact: true }).count(), 0);
});

test('regenerate: a second answer, and the branch arrows between the two', async () => {
  const { page } = o;
  const before = await stored();
  const first = before.at(-1);
  await assistant(page).last().getByRole('button', { name: 'Regenerate', exact: true }).click();
  const a = assistant(page).last();
  await until(async () => (await a.getAttribute('data-id')) !== first.id &&
    (await a.getAttribute('data-state')) === 'done', 20000, 'the new answer');
  const after = await stored();
  const second = after.at(-1);
  assert.notEqual(second.id, first.id);
  assert.equal(second.parent_id, first.parent_id);
  assert.deepEqual(second.sibling_ids, [first.id, second.id]);
  assert.equal(second.content, words(300, 'long'));
  await a.getByText(/2\s*\/\s*2/).waitFor();
  await shot(page, 'chat-regenerated');

  // back to the stopped answer, then forward again
  await a.getByRole('button', { name: 'Previous branch', exact: true }).click();
  await assistant(page).last().and(page.locator(`[data-id="${first.id}"]`)).waitFor();
  await assistant(page).last().getByText(/1\s*\/\s*2/).waitFor();
  assert.equal((await messages(page)).at(-1).text, fold(first.content));
  await shot(page, 'chat-branch-1of2');
  await assistant(page).last().getByRole('button', { name: 'Next branch', exact: true }).click();
  await assistant(page).last().and(page.locator(`[data-id="${second.id}"]`)).waitFor();
});

test('edit: the question resent as a new branch, arrows on the question', async () => {
  const { page } = o;
  const q = user(page).last();
  const oldId = await q.getAttribute('data-id');
  await q.getByRole('button', { name: 'Edit', exact: true }).click();
  const editor = page.getByRole('textbox', { name: 'Edit message', exact: true });
  await editor.waitFor();
  assert.equal(fold(await editor.inputValue()), words(300, 'long'));
  await shot(page, 'chat-editing');
  await editor.fill('edited question');
  // the editor's own Send, not the composer's
  await editor.locator('xpath=ancestor::*[.//button[normalize-space(.)="Send"]][1]')
    .getByRole('button', { name: 'Send', exact: true }).click();
  const nq = user(page).last();
  await until(async () => (await nq.getAttribute('data-id')) !== oldId,
    5000, 'the edited question');
  await assistant(page).last().and(page.locator('[data-state="done"]')).waitFor();
  const msgs = await stored();
  assert.equal(msgs.at(-2).content, 'edited question');
  assert.equal(msgs.at(-1).content, 'edited question');
  assert.equal(msgs.at(-2).sibling_ids.length, 2);
  await nq.getByText(/2\s*\/\s*2/).waitFor();
  await shot(page, 'chat-edited');
  await nq.getByRole('button', { name: 'Previous branch', exact: true }).click();
  await user(page).last().and(page.locator(`[data-id="${oldId}"]`)).waitFor();
  // the old branch comes back with its own answers (the second one)
  assert.equal((await messages(page)).at(-1).text, words(300, 'long'));
});

test('reload: still logged in, the conversation and its branch are there', async () => {
  const { page, seen } = o;
  const want = (await stored()).map((m) => [m.role, m.id]);
  await page.reload();
  await page.getByRole('button', { name: 'Log out', exact: true }).waitFor();
  await until(async () => (await messages(page)).length === want.length, 5000,
    'the history');
  assert.deepEqual((await messages(page)).map((m) => [m.role, m.id]), want);
  const nav = page.getByRole('navigation', { name: 'Conversations' });
  await nav.locator(`a[href="/c/${conv}"]`).waitFor();
  await shot(page, 'chat-reloaded');
  assert.deepEqual(seen.errors, []);
  assert.deepEqual(seen.dialogs, []);
});

test('an answer that fails upstream ends in the error state, said plainly', async () => {
  const { page, seen } = o;
  // the fake upstream behind aid's OpenAI provider: 5 words, then an error
  const c = await apiOk('POST', '/v1/conversations',
    { title: 'failing', model: 'openai/fake:words=20,delay_ms=5,error_at=5' }, acct.token);
  await page.goto(`/c/${c.id}`);
  await send(page, 'fail please');
  const a = assistant(page).last();
  await a.and(page.locator('[data-state="error"]')).waitFor({ timeout: 10000 });
  const last = (await apiOk('GET', `/v1/conversations/${c.id}`, undefined, acct.token))
    .messages.at(-1);
  assert.equal(last.status, 'error');
  assert.equal((await messages(page)).at(-1).text, fold(last.content));
  assert.match(await a.innerText(), /fail|error/i, 'the error is not said');
  // a failed answer can be tried again
  await a.getByRole('button', { name: 'Regenerate', exact: true }).waitFor();
  await shot(page, 'chat-error');
  assert.deepEqual(seen.errors, []);
});

// scripts/stack on the bats file's stack (its CHAT_DATA_DIR, CHAT_CONFIG,
// CHAT_BIN... are in the environment).
const STACK = path.join(path.dirname(fileURLToPath(import.meta.url)),
  '../../scripts/stack');
const stack = (...args) => promisify(execFile)(STACK, args, { timeout: 30000 });

test('an answer cut by a restart of chatd shows as interrupted', async () => {
  const { page } = o;
  assert.ok(process.env.CHAT_DATA_DIR, 'no CHAT_DATA_DIR: run from the bats file');
  const c = await apiOk('POST', '/v1/conversations', { title: 'cut' }, acct.token);
  await page.goto(`/c/${c.id}`);
  await send(page, words(500, 'cut'));
  const a = assistant(page).last();
  await until(async () => (await a.count()) > 0 &&
    (await a.innerText()).includes('cut5'), 10000, 'cut5 on the page');
  await stack('stop', 'chatd');
  await stack('start', 'chatd');
  await a.and(page.locator('[data-state="interrupted"]')).waitFor({ timeout: 20000 });
  const last = (await apiOk('GET', `/v1/conversations/${c.id}`, undefined, acct.token))
    .messages.at(-1);
  assert.equal(last.status, 'interrupted');
  assert.equal((await messages(page)).at(-1).text, fold(last.content));
  assert.match(await a.innerText(), /interrupted/i, 'the state is not said');
  await shot(page, 'chat-interrupted');
});
