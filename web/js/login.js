// login.js: the login and registration screen.
//
// Standard field names and autocomplete values so password managers fill
// and save them; one form that switches between "Log in" and "Register".
// Errors are shown in a role=alert element, in words a person can act on.

import { login, register } from './api.js';
import { el } from './dom.js';

// Error codes of /v1/auth/login and /v1/auth/register, said plainly.
const MESSAGES = {
  invalid_credentials: 'Wrong username or password.',
  account_disabled: 'This account is disabled.',
  too_many_attempts: 'Too many attempts: wait a moment and try again.',
  invalid_username: 'A username is 3 to 64 letters, digits, ".", "_" or "-".',
  invalid_password: 'A password needs at least 8 characters.',
  username_taken: 'This username is taken.',
  registration_closed: 'Registration is closed on this server.',
  too_many_registrations: 'Too many registrations from here: try later.',
  busy: 'The server is busy: try again in a second.',
};

export function mount(root, ctx) {
  let mode = 'login';
  const alert = el('p', { role: 'alert', class: 'alert' });
  const username = el('input', { id: 'login-username', name: 'username',
    type: 'text', autocomplete: 'username', required: true,
    autocapitalize: 'none', spellcheck: 'false' });
  const password = el('input', { id: 'login-password', name: 'password',
    type: 'password', autocomplete: 'current-password', required: true });
  const submit = el('button', { type: 'submit', class: 'primary' }, 'Log in');
  const heading = el('h1', {}, 'Log in');
  const toggle = el('button', { type: 'button', class: 'link' },
    'Create account');
  const form = el('form', { class: 'stack', novalidate: true },
    heading,
    el('label', { for: 'login-username' }, 'Username'), username,
    el('label', { for: 'login-password' }, 'Password'), password,
    alert, submit);

  function setMode(m) {
    mode = m;
    const reg = m === 'register';
    heading.textContent = reg ? 'Create account' : 'Log in';
    submit.textContent = reg ? 'Register' : 'Log in';
    toggle.textContent = reg ? 'Back to log in' : 'Create account';
    password.setAttribute('autocomplete',
      reg ? 'new-password' : 'current-password');
    alert.textContent = '';
    username.focus();
  }

  toggle.addEventListener('click', () =>
    setMode(mode === 'login' ? 'register' : 'login'));

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    alert.textContent = '';
    if (!username.value || !password.value) {
      alert.textContent = 'Enter a username and a password.';
      return;
    }
    submit.disabled = true;
    try {
      if (mode === 'register') await register(username.value, password.value);
      else await login(username.value, password.value);
      ctx.onLogin();
    } catch (e) {
      alert.textContent = MESSAGES[e.code] ||
        (e.message ? `Could not ${mode === 'login' ? 'log in' : 'register'}: ${e.message}` :
          'The server could not be reached.');
      password.select();
    } finally {
      submit.disabled = false;
    }
  });

  const box = el('main', { class: 'login', 'aria-labelledby': 'login-h' },
    form, el('p', { class: 'center' }, toggle));
  heading.id = 'login-h';
  root.append(box);
  username.focus();
  return () => box.remove();
}
