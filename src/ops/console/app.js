import { ApiError, api, session } from './api.js';
import { h } from './dom.js';
import { overviewPage } from './views/overview.js';
import { eventsPage } from './views/events.js';
import { eventPage } from './views/event.js';
import { deadLettersPage } from './views/dead-letters.js';
import { setupPage } from './views/setup.js';
import { accountingPage } from './views/accounting.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');

function signInPage(message) {
  nav.hidden = true;
  const input = h('input', { type: 'password', name: 'token', id: 'token', autocomplete: 'off', required: true, minlength: 32 });
  const error = h('p', { class: 'error', role: 'alert' }, message ?? '');
  const form = h(
    'form',
    { class: 'signin', 'aria-labelledby': 'signin-title' },
    h('label', { for: 'token' }, 'Admin token', input),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    session.signIn(input.value.trim());
    try {
      await api('/admin/summary');
      if (!location.hash || location.hash === '#/sign-in') location.hash = '#/overview';
      else route();
    } catch (err) {
      session.signOut();
      error.textContent = err instanceof ApiError && err.status === 401 ? 'That token was refused.' : `Could not sign in: ${err.message}`;
    }
  });
  return [h('h1', { id: 'signin-title' }, 'Sign in'), h('p', { class: 'muted' }, 'The token stays in this tab only and is sent as a bearer header.'), form, error];
}

const pages = [
  [/^#\/overview$/, () => overviewPage()],
  [/^#\/events\/(.+)$/, (m) => eventPage(decodeURIComponent(m[1]))],
  [/^#\/events(?:\?(.*))?$/, (m) => eventsPage(new URLSearchParams(m[1] ?? ''))],
  [/^#\/dead-letters(?:\?(.*))?$/, (m) => deadLettersPage(new URLSearchParams(m[1] ?? ''))],
  [/^#\/setup$/, () => setupPage()],
  [/^#\/accounting$/, () => accountingPage()],
];

async function route() {
  if (!session.token()) {
    main.replaceChildren(...signInPage());
    return;
  }
  nav.hidden = false;
  const hash = location.hash || '#/overview';
  for (const link of nav.querySelectorAll('a')) {
    const current = hash.startsWith(link.getAttribute('href'));
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const match = pages.map(([re, page]) => [hash.match(re), page]).find(([m]) => m);
  if (!match) {
    location.hash = '#/overview';
    return;
  }
  main.replaceChildren(h('p', { class: 'muted', role: 'status' }, 'Loading…'));
  try {
    const content = await match[1](match[0]);
    main.replaceChildren(...content);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      session.signOut();
      main.replaceChildren(...signInPage('The token was refused; sign in again.'));
      return;
    }
    main.replaceChildren(h('h1', {}, 'Something went wrong'), h('p', { class: 'error', role: 'alert' }, err.message));
  }
  main.focus();
}

document.getElementById('sign-out').addEventListener('click', () => {
  session.signOut();
  location.hash = '#/sign-in';
  route();
});
window.addEventListener('hashchange', route);
window.addEventListener('console:refresh', route);
route();
