// The console: sign-in, the navigation, and one renderer for every page
// of pages.js (list, filters, create form, row actions, paging, live tail).
import { call, fill, withQuery, setCSRF } from './api.js';
import { el, clear, iso, daysUntil, text, openDialog, closeDialog, field, values, copyButton } from './ui.js';
import { pages, secretFields } from './pages.js';

const $ = (id) => document.getElementById(id);
let session = null; // SessionInfo of GET /console/session
let stopTail = null; // ends the audit live tail of the page shown
let renderSeq = 0; // a page render superseded by another ignores its answers

const has = (route) => !!session && session.routes.includes(route);
const canWrite = (route) => !!session && !session.read_only && has(route);
const available = (p) => has('GET ' + (p.route || p.list));

async function boot() {
  wire();
  try {
    start(await call('GET', '/console/session'));
  } catch (e) {
    showSignIn();
  }
}

function wire() {
  $('signin-form').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
  $('nav-toggle').addEventListener('click', () => {
    const open = $('nav-toggle').getAttribute('aria-expanded') !== 'true';
    $('nav-toggle').setAttribute('aria-expanded', String(open));
    $('nav').classList.toggle('open', open);
  });
  window.addEventListener('hashchange', () => render(true));
  window.addEventListener('console:signedout', () => { if (session) { session = null; showSignIn('Your session has ended; sign in again.'); } });
}

function showSignIn(message) {
  if (stopTail) { stopTail(); stopTail = null; }
  closeDialog();
  $('boot').hidden = true;
  $('shell').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message || '';
  $('signin-secret').value = '';
  $('signin-key').focus();
}

async function signIn(ev) {
  ev.preventDefault();
  const key = $('signin-key').value.trim();
  const secret = $('signin-secret').value;
  if (!key || !secret) { $('signin-error').textContent = 'Enter the access key and its secret.'; return; }
  $('signin-submit').disabled = true;
  try {
    const info = await call('POST', '/console/session', { access_key: key, secret });
    $('signin-secret').value = '';
    start(info);
  } catch (e) {
    $('signin-error').textContent = e.status === 429 ? 'Too many failed sign-ins; try again later.' : 'Sign-in failed: ' + e.message + '.';
  } finally {
    $('signin-submit').disabled = false;
  }
}

async function signOut() {
  try { await call('POST', '/console/session/delete'); } catch (e) { /* the cookie is cleared either way */ }
  session = null;
  setCSRF('');
  location.hash = '';
  showSignIn('Signed out.');
}

function start(info) {
  session = info;
  setCSRF(info.csrf_token);
  $('boot').hidden = true;
  $('signin').hidden = true;
  $('shell').hidden = false;
  $('who').textContent = info.kind + (info.read_only ? ' (read-only)' : '') + ' · ' + (info.org_id || '');
  buildNav();
  render(false);
}

function buildNav() {
  const list = $('nav-list');
  clear(list);
  for (const p of pages) {
    if (p.parent || !available(p)) continue;
    list.append(el('li', {}, el('a', { href: '#/' + p.id, 'data-page': p.id, text: p.title })));
  }
}

// route parses the location hash: #/page?param=value.
function route() {
  const h = location.hash.replace(/^#\/?/, '');
  const [id, q] = h.split('?');
  return { id, params: Object.fromEntries(new URLSearchParams(q || '')) };
}

function render(fromUser) {
  if (!session) return;
  if (stopTail) { stopTail(); stopTail = null; }
  const { id, params } = route();
  let page = pages.find((p) => p.id === id && available(p));
  if (!page) {
    page = pages.find((p) => !p.parent && available(p));
    if (!page) { $('title').textContent = 'Nothing to show'; return; }
    history.replaceState(null, '', '#/' + page.id);
  }
  for (const a of $('nav-list').querySelectorAll('a')) {
    const cur = a.dataset.page === page.id || a.dataset.page === page.parent;
    if (cur) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  $('nav').classList.remove('open');
  $('nav-toggle').setAttribute('aria-expanded', 'false');
  document.title = page.title + ' · authgate console';
  $('title').textContent = page.title;
  $('subtitle').textContent = subtitle(page, params);
  // A fresh page area each time: nodes of the previous page never move,
  // they are replaced (no layout shift between pages).
  const area = el('div', { id: 'page' },
    el('div', { id: 'toolbar', class: 'toolbar' }),
    el('form', { id: 'filters', class: 'filters', hidden: true, novalidate: true }),
    el('p', { id: 'status', class: 'status', role: 'status', 'aria-live': 'polite', text: '\u00a0' }),
    el('div', { id: 'content', class: 'content' }));
  $('page').replaceWith(area);
  $('status').textContent = 'Loading…';
  const seq = ++renderSeq;
  if (page.render) page.render({ session, params, content: $('content'), status: status(seq), call, seq: () => seq === renderSeq });
  else renderList(page, params, seq);
  if (fromUser) $('main').focus({ preventScroll: true });
}

function subtitle(page, params) {
  const s = page.subtitle ? page.subtitle(params) : '';
  const ro = session.read_only ? 'Read-only view of your organisation.' : '';
  return [s, ro].filter(Boolean).join(' ') || '\u00a0';
}

function status(seq) {
  return (msg) => { if (seq === renderSeq) $('status').textContent = msg || '\u00a0'; };
}

// renderList renders a list page: toolbar (create, downloads), filters,
// the table, paging and (audit) the live tail.
function renderList(page, params, seq) {
  const say = status(seq);
  const toolbar = $('toolbar');
  const listPath = fill(page.list, params);
  let filterValues = {};
  if (page.create && canWrite(page.create.method + ' ' + (page.create.route || page.create.path))) {
    toolbar.append(el('button', { type: 'button', class: 'primary', id: 'create', text: page.create.label,
      onclick: () => createDialog(page, params) }));
  }
  for (const d of page.downloads || []) {
    if (has('GET ' + d.path)) toolbar.append(el('a', { class: 'button', href: d.path, download: d.file, id: d.id, text: d.label }));
  }
  for (const l of page.toolbarLinks || []) {
    toolbar.append(el('a', { class: 'button', href: l.href(params), text: l.label }));
  }
  if (page.filters) {
    const form = $('filters');
    form.hidden = false;
    for (const f of page.filters) form.append(field({ ...f, value: params[f.name] ?? (f.sessionDefault ? session[f.sessionDefault] : f.value) }, 'filter'));
    form.append(el('div', { class: 'filter-actions' },
      el('button', { type: 'submit', id: 'apply-filters', text: 'Apply filters' }),
      el('button', { type: 'button', id: 'clear-filters', text: 'Clear', onclick: () => { form.reset(); for (const i of form.querySelectorAll('input')) i.value = ''; form.requestSubmit(); } })));
    form.onsubmit = (ev) => { ev.preventDefault(); filterValues = values(page.filters, form, 'filter'); load(true); };
    filterValues = values(page.filters, form, 'filter');
  }
  let tailButton = null;
  if (page.tail) {
    tailButton = el('button', { type: 'button', id: 'tail', 'aria-pressed': 'false', text: 'Live tail' });
    toolbar.append(tailButton);
  }
  const table = el('table', { class: 'list' });
  const caption = el('caption', { class: 'sr-only', text: page.title });
  const thead = el('thead', {}, el('tr', {}, page.columns.map((c) => el('th', { scope: 'col', class: c.size ? 'col-' + c.size : undefined, text: c.label })),
    rowActions(page).length || (page.links || []).length ? el('th', { scope: 'col', text: 'Actions' }) : null));
  let tbody = el('tbody');
  table.append(caption, thead, tbody);
  const more = el('button', { type: 'button', id: 'more', class: 'more', hidden: true, text: 'Load more' });
  const content = $('content');
  let cursor = '';
  let rows = [];
  const load = async (reset) => {
    say('Loading…');
    try {
      const q = { ...(page.query || {}), ...filterValues };
      if (!reset && cursor) q.cursor = cursor;
      const ans = await call('GET', withQuery(listPath, q));
      if (seq !== renderSeq) return;
      const items = (ans && (ans[page.items || 'items'])) || [];
      if (reset) {
        // The rows are replaced at once, when the answer is here.
        rows = [];
        const fresh = el('tbody');
        tbody.replaceWith(fresh);
        tbody = fresh;
        if (stopTail) { stopTail(); stopTail = null; }
      }
      rows = rows.concat(items);
      for (const it of items) tbody.append(row(page, it, params, () => load(true)));
      if (!table.isConnected) content.append(table, more);
      cursor = (ans && ans.next_cursor) || '';
      more.hidden = !cursor;
      const total = ans && typeof ans.total === 'number' ? ans.total : rows.length;
      say(rows.length === 0 ? 'Nothing here yet.' : (total > rows.length ? rows.length + ' of ' + total : rows.length + (rows.length === 1 ? ' item' : ' items')));
    } catch (e) {
      if (seq === renderSeq) say('Could not load: ' + e.message);
    }
  };
  more.onclick = () => load(false);
  if (tailButton) {
    tailButton.onclick = () => {
      if (stopTail) { stopTail(); stopTail = null; return; }
      // Tailing lists oldest first and adds new events at the bottom, so
      // the rows already shown never move.
      const fresh = el('tbody');
      for (const it of rows.slice().reverse()) fresh.append(row(page, it, params, null));
      tbody.replaceWith(fresh);
      tbody = fresh;
      more.hidden = true;
      say('Live tail: newest at the bottom, every ' + (session.tail_interval_ms / 1000) + ' s.');
      stopTail = tail(page, listPath, () => filterValues, () => tbody, params, tailButton, () => rows, (r) => { rows = r; });
    };
  }
  load(true);
}

// tail polls for events newer than the newest shown (since = its time,
// events already shown are skipped by id) and adds them at the bottom.
function tail(page, listPath, filters, body, params, button, getRows, setRows) {
  let timer = 0;
  let stopped = false;
  button.setAttribute('aria-pressed', 'true');
  button.textContent = 'Stop live tail';
  const tick = async () => {
    const rows = getRows();
    const newest = rows.reduce((m, r) => (r.id > (m ? m.id : -1) ? r : m), null);
    const q = { ...filters(), limit: 100 };
    if (newest) q.since = newest.at;
    try {
      const ans = await call('GET', withQuery(listPath, q));
      if (stopped) return;
      const fresh = (ans[page.items || 'items'] || []).filter((e) => !newest || e.id > newest.id).reverse();
      for (const e of fresh) body().append(row(page, e, params, null));
      if (fresh.length) setRows(rows.concat(fresh));
    } catch (e) { /* the next tick tries again */ }
    if (!stopped) timer = setTimeout(tick, session ? session.tail_interval_ms : 2000);
  };
  timer = setTimeout(tick, 0);
  return () => {
    stopped = true;
    clearTimeout(timer);
    button.setAttribute('aria-pressed', 'false');
    button.textContent = 'Live tail';
  };
}

function rowActions(page) {
  return (page.actions || []).filter((a) => canWrite(a.method + ' ' + (a.route || a.path)));
}

function row(page, it, params, reload) {
  const tr = el('tr', { 'data-key': text(it[page.key || 'id']) });
  for (const c of page.columns) tr.append(cell(c, it));
  const acts = rowActions(page).filter((a) => !a.when || a.when(it));
  const links = (page.links || []).filter((l) => available(pages.find((p) => p.id === l.page)));
  if (rowActions(page).length || (page.links || []).length) {
    const td = el('td', { class: 'actions', 'data-label': 'Actions' });
    const box = el('div', { class: 'acts' });
    td.append(box);
    for (const l of links) box.append(el('a', { class: 'button small', href: '#/' + l.page + '?' + new URLSearchParams(l.params(it, params)), text: l.label }));
    for (const a of acts) {
      box.append(el('button', { type: 'button', class: 'small' + (a.danger ? ' danger' : ''), 'data-action': a.id || a.label.toLowerCase(),
        text: a.label, onclick: () => actionDialog(page, a, it, params, reload) }));
    }
    tr.append(td);
  }
  return tr;
}

function cell(c, it) {
  const v = c.value ? c.value(it) : it[c.key];
  const td = el('td', { 'data-label': c.label });
  switch (c.format) {
    case 'time':
      td.append(v ? el('time', { datetime: iso(v), text: iso(v) }) : '');
      break;
    case 'expiry': {
      if (!v) break;
      const days = daysUntil(v);
      let note = '';
      if (days < 0) { td.className = 'expired'; note = ' (expired)'; }
      else if (days <= 30) { td.className = 'expiring'; note = ' (in ' + Math.ceil(days) + ' d)'; }
      td.append(el('time', { datetime: iso(v), text: iso(v) }), note);
      break;
    }
    case 'window': // a limit's current window: used / limit, and its end
      if (!v) break;
      td.append(v.used + ' / ' + v.limit + ' per ' + v.period, el('br'), 'resets ', el('time', { datetime: iso(v.resets_at), text: iso(v.resets_at) }));
      break;
    case 'bool':
      td.textContent = v ? 'yes' : 'no';
      break;
    case 'code':
      td.append(el('code', { text: text(v) }));
      break;
    default:
      td.textContent = text(v);
  }
  return td;
}

// createDialog asks for a create form's fields, sends it, and shows any
// secret of the answer once, with copy buttons.
function createDialog(page, params) {
  const c = page.create;
  const fields = c.fields.map((f) => ({ ...f, value: f.value !== undefined ? f.value : (f.fromParam ? params[f.fromParam] : undefined) }));
  const body = fields.map((f) => field(f, 'create'));
  openDialog({
    title: c.title || c.label, body, okLabel: c.ok || 'Create',
    onSubmit: async () => {
      const v = values(fields, $('dialog-body'), 'create');
      const missing = fields.filter((f) => f.required && (v[f.name] === undefined || v[f.name] === ''));
      if (missing.length) throw new Error('Required: ' + missing.map((f) => f.label).join(', '));
      const ans = await call(c.method, fill(c.path, params), c.body ? c.body(v, params) : v);
      showCreated(page, ans);
      return true;
    },
  });
}

function showCreated(page, ans) {
  const secrets = Object.keys(ans || {}).filter((k) => secretFields.includes(k) && ans[k]);
  const body = [];
  if (secrets.length) body.push(el('p', { class: 'warn', text: 'Shown once: copy the secret now. authgate keeps only its hash.' }));
  const dl = el('dl', { class: 'created' });
  for (const [k, v] of Object.entries(ans || {})) {
    if (v === null || v === undefined || v === '' || typeof v === 'object') continue;
    dl.append(el('dt', { text: k }));
    if (secrets.includes(k)) {
      const out = el('output', { class: 'secret', id: 'created-' + k, text: String(v) });
      dl.append(el('dd', {}, out, ' ', copyButton(String(v), k)));
    } else {
      dl.append(el('dd', {}, el('code', { text: text(v) })));
    }
  }
  body.push(dl);
  openDialog({ title: 'Created', body, okLabel: '', cancelLabel: 'Done' });
  document.getElementById('dialog').addEventListener('close', () => render(false), { once: true });
}

// actionDialog confirms a row action (revoke, disable, delete, requeue),
// with its own fields if it has any, then sends it.
function actionDialog(page, a, it, params, reload) {
  const fields = a.fields || [];
  const who = text(it[page.label || page.key || 'id']);
  const body = [el('p', { text: (a.confirm || (a.label + ' {x}?')).replace('{x}', who) }), ...fields.map((f) => field(f, 'action'))];
  openDialog({
    title: a.label + ' ' + who, body, okLabel: a.label,
    onSubmit: async () => {
      const v = values(fields, $('dialog-body'), 'action');
      const path = fill(a.path, { ...params, ...it });
      await call(a.method, path, a.body ? a.body(v, it) : (fields.length ? v : undefined));
      if (reload) reload();
    },
  });
}

boot();
