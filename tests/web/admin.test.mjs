// admin.test.mjs - the admin screen: hidden from a plain user (no button,
// /admin falls back), the users table with search, create, role change and
// delete, the Usage and Events sections; an admin disabling a user whose
// page is open logs that page out; axe-core over the screen. The admin is
// the stack's first account (CHAT_TEST_WEB_ADMIN). Run by
// tests/integration/web-browser.bats.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, loggedIn, newUser, shot, axe, api, admin, until,
  loginApi, uniq } from './lib.mjs';

let browser;
let boss;       // the admin's page
let root;       // {username, password, token}
before(async () => {
  browser = await launch();
  root = admin();
  root.token = (await loginApi(root.username, root.password)).access_token;
  boss = await loggedIn(browser, root);
});
after(async () => { await browser?.close(); });

// The row of a user in the admin table, once a search shows it.
async function findRow(page, username) {
  await page.getByRole('searchbox', { name: 'Search users', exact: true })
    .or(page.getByRole('textbox', { name: 'Search users', exact: true }))
    .fill(username);
  const row = page.getByRole('row').filter({ hasText: username });
  await row.first().waitFor();
  return row.first();
}

test('a plain user sees no Admin button and cannot open /admin', async () => {
  const u = await newUser('plain');
  const o = await loggedIn(browser, u);
  try {
    assert.equal(await o.page.getByRole('button', { name: 'Admin', exact: true }).count(), 0);
    await o.page.goto('/admin');
    await o.page.getByRole('button', { name: 'Log out', exact: true }).waitFor();
    assert.equal(await o.page.getByRole('heading', { name: 'Users', exact: true }).count(), 0);
  } finally {
    await o.context.close();
  }
});

test('admin: users, usage and events; axe finds nothing serious', async () => {
  const { page } = boss;
  await page.getByRole('button', { name: 'Admin', exact: true }).click();
  await page.waitForURL(/\/admin$/);
  for (const h of ['Users', 'Usage', 'Events']) {
    await page.getByRole('heading', { name: h, exact: true }).waitFor();
  }
  await findRow(page, root.username);
  await shot(page, 'admin');
  await axe(page, 'admin');
});

test('admin: create a user, change the role, delete it', async () => {
  const { page } = boss;
  const name = uniq('made');
  await page.getByRole('button', { name: 'Create user', exact: true }).click();
  const dlg = page.getByRole('dialog');
  await dlg.getByLabel('Username', { exact: true }).fill(name);
  await dlg.getByLabel('Password', { exact: true }).fill(`pw-${name}-secret`);
  await shot(page, 'admin-create-user');
  await dlg.getByRole('button', { name: 'Create', exact: true }).click();
  await dlg.waitFor({ state: 'hidden' });
  const made = await loginApi(name, `pw-${name}-secret`);
  assert.equal(made.user.role, 'user');

  let row = await findRow(page, name);
  await row.getByRole('combobox', { name: 'Role', exact: true }).selectOption('guest');
  await until(async () => {
    const r = await api('GET', `/v1/admin/users?search=${name}`, undefined, root.token);
    return r.body?.data?.[0]?.role === 'guest';
  }, 5000, 'the role change');

  row = await findRow(page, name);
  await row.getByRole('button', { name: 'Delete', exact: true }).click();
  const confirm = page.getByRole('dialog');
  await shot(page, 'admin-delete-confirm');
  await confirm.getByRole('button', { name: 'Delete', exact: true }).click();
  await until(async () => (await api('POST', '/v1/auth/login',
    { username: name, password: `pw-${name}-secret` })).status === 401, 5000,
    'the deleted account to be refused');
});

test('a user disabled by the admin is logged out of their open page', async () => {
  const u = await newUser('victim');
  const o = await loggedIn(browser, u);
  try {
    await o.page.getByRole('textbox', { name: 'Message', exact: true }).waitFor();
    const row = await findRow(boss.page, u.username);
    await row.getByRole('button', { name: 'Disable', exact: true }).click();
    await (await findRow(boss.page, u.username))
      .getByRole('button', { name: 'Enable', exact: true }).waitFor();
    await shot(boss.page, 'admin-disabled');
    // the victim's page ends up on the login screen by itself
    await o.page.getByRole('button', { name: 'Log in', exact: true })
      .waitFor({ timeout: 15000 });
    await shot(o.page, 'admin-victim-logged-out');
  } finally {
    await o.context.close();
  }
});
