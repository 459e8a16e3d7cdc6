// conversations.test.mjs - the sidebar and the rest of the chat pane:
// newest first, the filter, rename / archive / delete through the
// "Conversation actions" menu and its dialogs, the model picker and the
// system prompt dialog (both reach the API), the keyboard (Enter sends,
// Shift+Enter adds a line, Esc stops, "?" lists the shortcuts), Copy and
// Copy code (the clipboard gets the text), the Theme switch; axe-core over
// the dialogs. Run by tests/integration/web-browser.bats.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, loggedIn, newUser, shot, axe, apiOk, api, log, words,
  convId, until, messages } from './lib.mjs';

let browser;
let acct;
let o;
const ids = {};     // title -> conversation id
before(async () => {
  browser = await launch();
  acct = await newUser('side');
  for (const t of ['alpha trip', 'beta notes', 'gamma plan']) {
    ids[t] = (await apiOk('POST', '/v1/conversations', { title: t }, acct.token)).id;
  }
  o = await loggedIn(browser, acct, { permissions: ['clipboard-read', 'clipboard-write'] });
});
after(async () => { await browser?.close(); });

const nav = (page) => page.getByRole('navigation', { name: 'Conversations' });
const linkTexts = (page) => nav(page).locator('ul a[href^="/c/"]')
  .evaluateAll((as) => as.map((a) => a.textContent.trim()));

async function actions(page, title) {
  const item = nav(page).getByRole('listitem').filter({ hasText: title });
  await item.getByRole('button', { name: 'Conversation actions', exact: true }).click();
  return page;
}

test('the sidebar: newest first, filtered by title', async () => {
  const { page } = o;
  await until(async () => (await linkTexts(page)).length === 3, 5000, 'three links');
  assert.deepEqual(await linkTexts(page), ['gamma plan', 'beta notes', 'alpha trip']);
  await nav(page).getByRole('textbox', { name: 'Filter conversations', exact: true })
    .or(nav(page).getByRole('searchbox', { name: 'Filter conversations', exact: true }))
    .fill('beta');
  await until(async () => (await linkTexts(page)).join() === 'beta notes', 5000,
    'the filter');
  await shot(page, 'sidebar-filtered');
  await nav(page).getByRole('textbox', { name: 'Filter conversations', exact: true })
    .or(nav(page).getByRole('searchbox', { name: 'Filter conversations', exact: true }))
    .fill('');
  await until(async () => (await linkTexts(page)).length === 3, 5000, 'all three again');
});

test('rename, archive and delete from the actions menu', async () => {
  const { page } = o;
  await actions(page, 'alpha trip');
  await page.getByRole('menuitem', { name: 'Rename', exact: true }).click();
  const dlg = page.getByRole('dialog');
  const title = dlg.getByRole('textbox', { name: 'Title', exact: true });
  assert.equal(await title.inputValue(), 'alpha trip');
  await shot(page, 'sidebar-rename');
  await axe(page, 'the rename dialog');
  await title.fill('alpha renamed');
  await dlg.getByRole('button', { name: 'Save', exact: true }).click();
  await nav(page).locator(`a[href="/c/${ids['alpha trip']}"]`)
    .filter({ hasText: 'alpha renamed' }).waitFor();
  const c = await apiOk('GET', `/v1/conversations/${ids['alpha trip']}`, undefined, acct.token);
  assert.equal(c.title, 'alpha renamed');

  await actions(page, 'beta notes');
  await page.getByRole('menuitem', { name: 'Archive', exact: true }).click();
  await nav(page).locator(`a[href="/c/${ids['beta notes']}"]`).waitFor({ state: 'detached' });
  await until(async () => (await apiOk('GET', `/v1/conversations/${ids['beta notes']}`,
    undefined, acct.token)).archived === true, 3000, 'archived');

  await actions(page, 'gamma plan');
  await page.getByRole('menuitem', { name: 'Delete', exact: true }).click();
  const confirm = page.getByRole('dialog');
  await confirm.getByRole('button', { name: 'Cancel', exact: true }).waitFor();
  await shot(page, 'sidebar-delete-confirm');
  await axe(page, 'the delete dialog');
  await confirm.getByRole('button', { name: 'Cancel', exact: true }).click();
  assert.equal((await api('GET', `/v1/conversations/${ids['gamma plan']}`, undefined,
    acct.token)).status, 200, 'Cancel deleted it');
  await actions(page, 'gamma plan');
  await page.getByRole('menuitem', { name: 'Delete', exact: true }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete', exact: true }).click();
  await nav(page).locator(`a[href="/c/${ids['gamma plan']}"]`).waitFor({ state: 'detached' });
  await until(async () => (await api('GET', `/v1/conversations/${ids['gamma plan']}`,
    undefined, acct.token)).status === 404, 3000, 'deleted');
  assert.deepEqual(await linkTexts(page), ['alpha renamed']);
});

test('the model picker and the system prompt reach the conversation', async () => {
  const { page } = o;
  const conv = ids['alpha trip'];
  await nav(page).locator(`a[href="/c/${conv}"]`).click();
  await page.waitForURL(`**/c/${conv}`);
  const model = page.getByRole('combobox', { name: 'Model', exact: true });
  await model.waitFor();
  // the options come from GET /v1/models, after the pane shows
  await until(async () => (await model.locator('option')
    .evaluateAll((os) => os.map((x) => x.value))).includes('echo'), 5000,
    'the model "echo" in the picker');
  await model.selectOption('echo');
  await until(async () => (await apiOk('GET', `/v1/conversations/${conv}`, undefined,
    acct.token)).model === 'echo', 3000, 'the model saved');

  await page.getByRole('button', { name: 'System prompt', exact: true }).click();
  const dlg = page.getByRole('dialog');
  await dlg.getByRole('textbox', { name: 'System prompt', exact: true }).fill('Be brief.');
  await shot(page, 'chat-system-prompt');
  await axe(page, 'the system prompt dialog');
  await dlg.getByRole('button', { name: 'Save', exact: true }).click();
  await until(async () => (await apiOk('GET', `/v1/conversations/${conv}`, undefined,
    acct.token)).system_prompt === 'Be brief.', 3000, 'the system prompt saved');
});

test('keyboard: Shift+Enter adds a line, Enter sends, Esc stops, ? lists shortcuts', async () => {
  const { page } = o;
  const box = page.getByRole('textbox', { name: 'Message', exact: true });
  await box.click();
  await box.pressSequentially('line one');
  await page.keyboard.press('Shift+Enter');
  await box.pressSequentially('line two');
  assert.equal(await box.inputValue(), 'line one\nline two');
  await page.keyboard.press('Enter');
  const a = log(page).locator('article[data-role="assistant"]').last();
  await a.and(page.locator('[data-state="done"]')).waitFor();
  const conv = await convId(page);
  const c = await apiOk('GET', `/v1/conversations/${conv}`, undefined, acct.token);
  assert.equal(c.messages.at(-2).content, 'line one\nline two');

  await box.fill(words(300, 'esc'));
  await page.keyboard.press('Enter');
  await a.and(page.locator('[data-state="streaming"]')).waitFor();
  await until(async () => (await a.innerText()).includes('esc3'), 5000, 'words');
  await page.keyboard.press('Escape');
  await a.and(page.locator('[data-state="stopped"]')).waitFor();

  await page.locator('main').click({ position: { x: 5, y: 5 } });
  await page.keyboard.press('?');
  const dlg = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await dlg.waitFor();
  await shot(page, 'shortcuts');
  await axe(page, 'the shortcuts dialog');
  await page.keyboard.press('Escape');
  await dlg.waitFor({ state: 'hidden' });
  await page.getByRole('button', { name: 'Keyboard shortcuts', exact: true }).click();
  await dlg.waitFor();
  await page.keyboard.press('Escape');
});

test('Copy and Copy code put the text on the clipboard', async () => {
  const { page } = o;
  const md = 'Here:\n\n```js\nconst x = 1;\n```';
  await page.getByRole('textbox', { name: 'Message', exact: true }).fill(md);
  await page.keyboard.press('Enter');
  const a = log(page).locator('article[data-role="assistant"]').last();
  await until(async () => (await a.getAttribute('data-state')) === 'done' &&
    (await messages(page)).at(-1).text.includes('const x'), 10000, 'the answer');
  await a.getByRole('button', { name: 'Copy code', exact: true }).click();
  await until(async () => (await page.evaluate(() => navigator.clipboard.readText()))
    .trim() === 'const x = 1;', 3000, 'the code on the clipboard');
  await a.getByRole('button', { name: 'Copy', exact: true }).click();
  await until(async () => (await page.evaluate(() => navigator.clipboard.readText())) === md,
    3000, 'the message on the clipboard');
  await shot(page, 'chat-code');
});

test('the Theme switch flips light and dark, and is kept', async () => {
  const { page, seen } = o;
  const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const before = await bg();
  await page.getByRole('button', { name: 'Theme', exact: true }).click();
  await until(async () => (await bg()) !== before, 3000, 'the colours to change');
  const flipped = await bg();
  await page.reload();
  await page.getByRole('button', { name: 'Log out', exact: true }).waitFor();
  assert.equal(await bg(), flipped, 'the choice was not kept');
  await page.getByRole('button', { name: 'Theme', exact: true }).click();
  await until(async () => (await bg()) === before, 3000, 'the colours back');
  assert.deepEqual(seen.errors, []);
  assert.deepEqual(seen.dialogs, []);
});
