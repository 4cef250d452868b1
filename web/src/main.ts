// Hearth's web client: a small Matrix client served by Hearth itself (spec/web-client.md). It talks
// to the server through the public client-server API only, plus Hearth's session extension.
import './style.css';
import { Api, MatrixError, type Credentials } from './api.js';
import { Client } from './client.js';
import { showApp } from './ui/app.js';
import { showLogin } from './ui/login.js';

/**
 * The access token stays in this tab (sessionStorage: gone when the tab closes) unless the user
 * ticked "Remember me" (localStorage: shared by this browser's tabs until logout).
 */
const CREDS_KEY = 'hearth.credentials';

function loadCreds(): Credentials | undefined {
  for (const store of [sessionStorage, localStorage]) {
    const raw = store.getItem(CREDS_KEY);
    if (!raw) continue;
    try {
      const c = JSON.parse(raw) as Partial<Credentials>;
      if (typeof c.userId === 'string' && typeof c.accessToken === 'string' && typeof c.deviceId === 'string') return { userId: c.userId, accessToken: c.accessToken, deviceId: c.deviceId };
    } catch {
      store.removeItem(CREDS_KEY);
    }
  }
  return undefined;
}

function saveCreds(c: Credentials, remember: boolean): void {
  (remember ? localStorage : sessionStorage).setItem(CREDS_KEY, JSON.stringify(c));
}

function clearCreds(): void {
  sessionStorage.removeItem(CREDS_KEY);
  localStorage.removeItem(CREDS_KEY);
}

const root = document.getElementById('app')!;
const api = new Api(); // this origin: the page and the API come from the same Hearth

function login(message?: string): void {
  api.creds = undefined;
  api.sessionId = undefined;
  showLogin(root, api, {
    ...(message ? { message } : {}),
    onLoggedIn(creds, remember) {
      saveCreds(creds, remember);
      void start(creds);
    },
  });
}

async function start(creds: Credentials): Promise<void> {
  api.creds = creds;
  const client = new Client(api);
  showApp(root, client, {
    onLogout(message) {
      client.stop();
      clearCreds();
      login(message);
    },
  });
  try {
    await client.start();
  } catch (e) {
    client.stop();
    if (api.creds !== creds) return; // logged out meanwhile ('loggedout' showed the login)
    if (e instanceof MatrixError && e.status === 401) {
      clearCreds();
      login('This login is no longer valid. Log in again.');
      return;
    }
    setTimeout(() => void start(creds), 5000); // the server is unreachable: try again
  }
}

const saved = loadCreds();
if (saved) void start(saved);
else login();
