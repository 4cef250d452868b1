// Log in or register with a password (matrix-spec: login.yaml#login, registration.yaml#register).
import { MatrixError, type Api, type Credentials, type Json } from '../api.js';
import { h, replaceChildren } from '../dom.js';

const DEVICE_NAME = 'Hearth web client';

export interface LoginOptions {
  message?: string;
  onLoggedIn(creds: Credentials, remember: boolean): void;
}

function explain(e: unknown, action: 'login' | 'register'): string {
  if (!(e instanceof MatrixError)) return 'Cannot reach the server. Check your connection and try again.';
  switch (e.errcode) {
    case 'M_FORBIDDEN': return action === 'login' ? 'Wrong username or password.' : e.message;
    case 'M_USER_IN_USE': return 'That username is taken. Pick another one, or log in.';
    case 'M_LIMIT_EXCEEDED': return 'Too many attempts. Wait a moment and try again.';
    case 'M_USER_DEACTIVATED': return 'This account has been deactivated.';
    default: return e.message || e.errcode;
  }
}

const credsOf = (r: Json): Credentials => {
  if (typeof r.user_id !== 'string' || typeof r.access_token !== 'string' || typeof r.device_id !== 'string') throw new Error('The server answered without an access token.');
  return { userId: r.user_id, accessToken: r.access_token, deviceId: r.device_id };
};

async function login(api: Api, username: string, password: string): Promise<Credentials> {
  return credsOf(await api.request('POST', '/_matrix/client/v3/login', {
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: username },
    password,
    initial_device_display_name: DEVICE_NAME,
  }, { noAuth: true }));
}

/** Registration with the dummy stage (open registration); a UIA session is followed once. */
async function register(api: Api, username: string, password: string): Promise<Credentials> {
  const body = { username, password, initial_device_display_name: DEVICE_NAME, auth: { type: 'm.login.dummy' } as Json };
  try {
    return credsOf(await api.request('POST', '/_matrix/client/v3/register', body, { noAuth: true }));
  } catch (e) {
    if (e instanceof MatrixError && e.status === 401 && typeof e.body.session === 'string') {
      body.auth = { type: 'm.login.dummy', session: e.body.session };
      return credsOf(await api.request('POST', '/_matrix/client/v3/register', body, { noAuth: true }));
    }
    throw e;
  }
}

export function showLogin(root: HTMLElement, api: Api, opts: LoginOptions): void {
  const user = h('input', { id: 'login-username', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const remember = h('input', { id: 'login-remember', type: 'checkbox' });
  const error = h('p', { class: 'error', role: 'alert' });
  const loginBtn = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const registerBtn = h('button', { type: 'button' }, 'Register');
  const form = h('form', { class: 'login-form', 'aria-labelledby': 'login-title', novalidate: true },
    h('div', { class: 'field' }, h('label', { for: 'login-username' }, 'Username'), user),
    h('div', { class: 'field' }, h('label', { for: 'login-password' }, 'Password'), pass),
    h('div', { class: 'check' }, remember, h('label', { for: 'login-remember' }, 'Remember me'),
      h('span', { class: 'hint', id: 'remember-hint' }, 'Keeps you logged in on this browser. Otherwise you are logged out when this tab closes.')),
    error,
    h('div', { class: 'buttons' }, loginBtn, registerBtn),
  );
  remember.setAttribute('aria-describedby', 'remember-hint');

  const run = async (action: 'login' | 'register') => {
    error.textContent = '';
    const username = user.value.trim();
    const password = pass.value;
    if (!username || !password) {
      error.textContent = 'Enter a username and a password.';
      (username ? pass : user).focus();
      return;
    }
    loginBtn.disabled = registerBtn.disabled = true;
    form.setAttribute('aria-busy', 'true');
    try {
      const creds = action === 'login' ? await login(api, username, password) : await register(api, username.replace(/^@/, '').split(':')[0]!, password);
      opts.onLoggedIn(creds, remember.checked);
    } catch (e) {
      error.textContent = explain(e, action);
      loginBtn.disabled = registerBtn.disabled = false;
      form.removeAttribute('aria-busy');
    }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void run('login');
  });
  registerBtn.addEventListener('click', () => void run('register'));

  replaceChildren(root,
    h('main', { class: 'login' },
      h('h1', { id: 'login-title' }, 'Hearth'),
      h('p', { class: 'lead' }, 'Chat on ', h('strong', null, location.host), '. Log in, or register a new account.'),
      opts.message ? h('p', { class: 'notice', role: 'status' }, opts.message) : null,
      form,
      h('p', { class: 'hint' }, 'Each browser tab is its own session: its typing and presence end when the tab closes. Any Matrix client works with this server too.'),
    ),
  );
  user.focus();
}
