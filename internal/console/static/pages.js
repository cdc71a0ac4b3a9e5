// One definition per page: the admin API routes it reads and writes, its
// columns, create form and row actions. The page shows in the navigation
// when the server serves its list route; write actions show when the
// session may write (admins) and the server serves the route.
import { el, iso, text } from './ui.js';

// secretFields are the answer fields of a create that hold a secret: shown
// once, with a copy button.
export const secretFields = ['secret', 'client_secret', 'application_secret', 'application_token', 'password',
  'm2m_api_key', 'api_key', 'auth_secret'];

const principalKinds = ['user', 'owner', 'admin', 'application', 'device', 'partner'];
const time = (key, label) => ({ key, label, format: 'time' });

export const pages = [
  { id: 'dashboard', title: 'Dashboard', route: '/admin/stats', render: dashboard },

  { id: 'organisations', title: 'Organisations', list: '/admin/organisations', label: 'name',
    columns: [{ key: 'name', label: 'Name' }, { key: 'id', label: 'ID', format: 'code' }, time('created_at', 'Created')],
    create: { label: 'New organisation', method: 'POST', path: '/admin/organisations', fields: [{ name: 'name', label: 'Name', required: true }] },
    links: [{ label: 'Principals', page: 'principals', params: (r) => ({ org: r.id }) }],
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/organisations/{id}', danger: true, confirm: 'Delete organisation {x} and everything in it?' }] },

  { id: 'principals', title: 'Principals', list: '/admin/principals', label: 'name',
    subtitle: (p) => (p.org ? 'Organisation ' + p.org : ''),
    filters: [{ name: 'org', label: 'Organisation ID' }],
    columns: [{ key: 'name', label: 'Name' }, { key: 'kind', label: 'Kind' }, { key: 'id', label: 'ID', format: 'code' },
      { key: 'org_id', label: 'Organisation', format: 'code' }, { key: 'disabled', label: 'Disabled', format: 'bool' }, time('created_at', 'Created')],
    create: { label: 'New principal', method: 'POST', path: '/admin/principals', fields: [
      { name: 'org_id', label: 'Organisation ID', required: true, fromParam: 'org' },
      { name: 'kind', label: 'Kind', type: 'select', options: principalKinds, required: true },
      { name: 'name', label: 'Name', required: true }] },
    links: [{ label: 'Credentials', page: 'credentials', params: (r) => ({ principal: r.id }) }],
    actions: [{ label: 'Disable', method: 'POST', path: '/admin/principals/{id}/disable', danger: true, when: (r) => !r.disabled,
      confirm: 'Disable {x}? Its tokens are revoked and it can no longer authenticate.' }] },

  { id: 'credentials', title: 'Credentials', list: '/admin/credentials', label: 'lookup',
    filters: [{ name: 'org', label: 'Organisation ID' }, { name: 'principal', label: 'Principal ID' },
      { name: 'kind', label: 'Kind', type: 'select', options: ['', 'access_key', 'client_secret', 'api_key', 'public_key', 'certificate', 'signing_key', 'password', 'psk', 'app_token'] }],
    columns: [{ key: 'kind', label: 'Kind' }, { key: 'lookup', label: 'Lookup', format: 'code' }, { key: 'name', label: 'Name' },
      { key: 'principal_id', label: 'Principal', format: 'code' }, time('created_at', 'Created'), { key: 'expires_at', label: 'Expires', format: 'expiry' },
      time('revoked_at', 'Revoked')],
    create: { label: 'New credential', method: 'POST', path: '/admin/credentials', fields: [
      { name: 'principal_id', label: 'Principal ID', required: true, fromParam: 'principal' },
      { name: 'kind', label: 'Kind', type: 'select', options: ['access_key', 'client_secret', 'api_key'], required: true },
      { name: 'name', label: 'Name' }] },
    actions: [{ label: 'Revoke', method: 'POST', path: '/admin/credentials/{id}/revoke', danger: true, when: (r) => !r.revoked_at,
      confirm: 'Revoke {x}? Tokens issued with it are revoked too.' }] },

  { id: 'accesskeys', title: 'OAuth2 access keys', list: '/admin/credentials', query: { kind: 'access_key' }, label: 'lookup',
    filters: [{ name: 'org', label: 'Organisation ID' }, { name: 'principal', label: 'Principal ID' }],
    columns: [{ key: 'lookup', label: 'Access key', format: 'code' }, { key: 'name', label: 'Name' }, { key: 'principal_id', label: 'Principal', format: 'code' },
      { key: 'org_id', label: 'Organisation', format: 'code' }, time('created_at', 'Created'), { key: 'expires_at', label: 'Expires', format: 'expiry' }, time('revoked_at', 'Revoked')],
    create: { label: 'New access key', method: 'POST', path: '/admin/credentials', fields: [
      { name: 'principal_id', label: 'Principal ID', required: true, fromParam: 'principal' }, { name: 'name', label: 'Name' }],
    body: (v) => ({ ...v, kind: 'access_key' }) },
    actions: [{ label: 'Revoke', method: 'POST', path: '/admin/credentials/{id}/revoke', danger: true, when: (r) => !r.revoked_at,
      confirm: 'Revoke access key {x}? Its tokens are revoked too.' }] },

  { id: 'taap-clients', title: 'TAAP clients', list: '/admin/taap/clients', label: 'name',
    columns: [{ key: 'name', label: 'Name' }, { key: 'client_id', label: 'Client ID', format: 'code' }, { key: 'org_id', label: 'Organisation', format: 'code' }, time('created_at', 'Created')],
    create: { label: 'New TAAP client', method: 'POST', path: '/admin/taap/clients', fields: [
      { name: 'name', label: 'Name', required: true },
      { name: 'public_key', label: 'Public key (PEM)', type: 'textarea', rows: 6 }] },
    links: [{ label: 'Keys', page: 'taap-keys', params: (r) => ({ id: r.id }) }],
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/taap/clients/{id}', danger: true }] },
  { id: 'taap-keys', parent: 'taap-clients', title: 'TAAP client keys', list: '/admin/taap/clients/{id}/keys', key: 'kid', label: 'kid',
    subtitle: (p) => 'Client ' + p.id,
    columns: [{ key: 'kid', label: 'Key ID', format: 'code' }, time('created_at', 'Created')],
    create: { label: 'Add key', method: 'POST', path: '/admin/taap/clients/{id}/keys', fields: [{ name: 'public_key', label: 'Public key (PEM)', type: 'textarea', required: true }] },
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/taap/clients/{id}/keys/{kid}', danger: true }] },
  { id: 'taap-sims', title: 'TAAP SIMs', list: '/admin/taap/sims', key: 'iccid', label: 'iccid',
    filters: [{ name: 'org', label: 'Organisation ID' }],
    columns: [{ key: 'iccid', label: 'ICCID', format: 'code' }, { key: 'label', label: 'Label' }, { key: 'status', label: 'Status' }, time('created_at', 'Created')],
    create: { label: 'Add SIM', method: 'POST', path: '/admin/taap/sims', fields: [
      { name: 'org_id', label: 'Organisation ID', required: true }, { name: 'iccid', label: 'ICCID', required: true }, { name: 'label', label: 'Label' }] },
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/taap/sims/{iccid}', danger: true }] },

  { id: 'tpv-brands', title: 'TPV brands', list: '/admin/tpv/brands', label: 'name',
    columns: [{ key: 'name', label: 'Brand' }, { key: 'id', label: 'ID', format: 'code' }, { key: 'org_id', label: 'Organisation', format: 'code' }, time('created_at', 'Created')],
    create: { label: 'New brand', method: 'POST', path: '/admin/tpv/brands', fields: [{ name: 'name', label: 'Brand name', required: true }] },
    links: [{ label: 'Products', page: 'tpv-products', params: (r) => ({ id: r.id }) }],
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/tpv/brands/{id}', danger: true }] },
  { id: 'tpv-products', parent: 'tpv-brands', title: 'TPV products', list: '/admin/tpv/brands/{id}/products', key: 'code', label: 'code',
    subtitle: (p) => 'Brand ' + p.id,
    columns: [{ key: 'code', label: 'Code', format: 'code' }, { key: 'name', label: 'Name' }],
    create: { label: 'Add product', method: 'POST', path: '/admin/tpv/brands/{id}/products', fields: [
      { name: 'code', label: 'Code', required: true }, { name: 'name', label: 'Name', required: true }] },
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/tpv/brands/{id}/products/{code}', danger: true }] },

  { id: 'apstrata-accounts', title: 'Apstrata accounts', list: '/admin/apstrata/accounts', label: 'name',
    columns: [{ key: 'name', label: 'Name' }, { key: 'auth_key', label: 'Auth key', format: 'code' }, { key: 'org_id', label: 'Organisation', format: 'code' }, time('created_at', 'Created')],
    create: { label: 'New account', method: 'POST', path: '/admin/apstrata/accounts', fields: [{ name: 'name', label: 'Name', required: true }] },
    links: [{ label: 'Members', page: 'apstrata-members', params: (r) => ({ id: r.id }) }],
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/apstrata/accounts/{id}', danger: true }] },
  { id: 'apstrata-members', parent: 'apstrata-accounts', title: 'Apstrata members', list: '/admin/apstrata/accounts/{id}/members', key: 'name', label: 'name',
    subtitle: (p) => 'Account ' + p.id,
    columns: [{ key: 'name', label: 'Login' }, { key: 'kind', label: 'Kind' }, time('created_at', 'Created')],
    create: { label: 'Add member', method: 'POST', path: '/admin/apstrata/accounts/{id}/members', fields: [
      { name: 'name', label: 'Login', required: true }, { name: 'device', label: 'Device', type: 'checkbox' }] },
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/apstrata/accounts/{id}/members/{name}', danger: true }] },

  { id: 'm2m-partners', title: 'M2M partners', list: '/admin/m2m/partners', label: 'name',
    columns: [{ key: 'name', label: 'Partner' }, { key: 'env', label: 'Env' }, { key: 'id', label: 'ID', format: 'code' }, { key: 'callback_url', label: 'Callback' }],
    actions: [] },
  { id: 'm2m-apikeys', title: 'M2M API keys', list: '/admin/m2m/apikeys', label: 'id',
    columns: [{ key: 'partner', label: 'Partner' }, { key: 'env', label: 'Env' }, { key: 'id', label: 'ID', format: 'code' }, time('created_at', 'Created'), time('revoked_at', 'Revoked')],
    create: { label: 'New API key', method: 'POST', path: '/admin/m2m/apikeys', fields: [{ name: 'partner', label: 'Partner', required: true }] },
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/m2m/apikeys/{id}', danger: true }] },
  { id: 'm2m-sims', title: 'M2M SIMs', list: '/admin/m2m/sims', label: 'iccid',
    columns: [{ key: 'iccid', label: 'ICCID', format: 'code' }, { key: 'partner', label: 'Partner' }, { key: 'state', label: 'State' }, { key: 'tariff', label: 'Tariff' },
      time('last_change', 'Last change')],
    create: { label: 'Add SIM', method: 'POST', path: '/admin/m2m/sims', fields: [{ name: 'partner', label: 'Partner', required: true }, { name: 'iccid', label: 'ICCID', required: true }] },
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/m2m/sims/{id}', danger: true }] },
  { id: 'm2m-outbox', title: 'M2M callback outbox', list: '/admin/m2m/outbox', label: 'id',
    filters: [{ name: 'state', label: 'State', type: 'select', options: ['', 'pending', 'failed', 'done'] }],
    columns: [{ key: 'id', label: 'Job', format: 'code' }, { key: 'partner', label: 'Partner' }, { key: 'state', label: 'State' }, { key: 'attempts', label: 'Attempts' },
      { key: 'last_error', label: 'Last error' }, time('next_attempt', 'Next attempt')],
    actions: [{ label: 'Requeue', method: 'POST', path: '/admin/m2m/outbox/{id}/requeue', when: (r) => r.state === 'failed', confirm: 'Send job {x} again?' }] },

  { id: 'subscriptions', title: 'Subscriptions', list: '/admin/subscriptions', label: 'id',
    columns: [{ key: 'org_id', label: 'Organisation', format: 'code' }, { key: 'resource', label: 'Resource' }, { key: 'plan', label: 'Plan' },
      { key: 'used', label: 'Used / quota', format: 'quota', used: 'used', quota: 'quota', value: (r) => (r.quota ? (r.used ?? 0) + ' / ' + r.quota : (r.used ?? '')) },
      time('created_at', 'Created')],
    create: { label: 'Subscribe', method: 'POST', path: '/admin/subscriptions', fields: [
      { name: 'org_id', label: 'Organisation ID', required: true }, { name: 'resource', label: 'Resource', required: true }, { name: 'plan', label: 'Plan', required: true }] },
    actions: [{ label: 'Unsubscribe', method: 'DELETE', path: '/admin/subscriptions/{id}', danger: true }] },
  { id: 'plans', title: 'Plans', list: '/admin/subscriptions/plans', key: 'name', label: 'name',
    columns: [{ key: 'name', label: 'Plan' }, { key: 'rate', label: 'Rate' }, { key: 'rate_period', label: 'Per' }, { key: 'quota', label: 'Quota' },
      { key: 'quota_period', label: 'Quota period' }, time('created_at', 'Created')],
    create: { label: 'New plan', method: 'POST', path: '/admin/subscriptions/plans', fields: [
      { name: 'name', label: 'Name', required: true }, { name: 'rate', label: 'Rate', type: 'number' }, { name: 'quota', label: 'Quota', type: 'number' }] },
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/subscriptions/plans/{name}', danger: true }] },
  { id: 'resources', title: 'API resources', list: '/admin/subscriptions/resources', key: 'name', label: 'name',
    columns: [{ key: 'name', label: 'Resource' }, { key: 'path_prefixes', label: 'Paths' }, { key: 'methods', label: 'Methods' }, time('created_at', 'Created')],
    create: { label: 'New resource', method: 'POST', path: '/admin/subscriptions/resources', fields: [
      { name: 'name', label: 'Name', required: true }, { name: 'path_prefixes', label: 'Path prefixes (comma-separated)', list: true, required: true },
      { name: 'methods', label: 'Methods (comma-separated)', list: true }] },
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/subscriptions/resources/{name}', danger: true }] },

  { id: 'certificates', title: 'CA certificates', list: '/admin/ca/certificates', key: 'serial', label: 'serial',
    columns: [{ key: 'serial', label: 'Serial', format: 'code' }, { key: 'subject', label: 'Subject' }, { key: 'purpose', label: 'Purpose' },
      time('not_before', 'Not before'), { key: 'not_after', label: 'Expires', format: 'expiry' }, time('revoked_at', 'Revoked')],
    downloads: [{ id: 'download-crl', label: 'Download CRL', path: '/admin/ca/crl', file: 'authgate.crl' }],
    create: { label: 'Issue from CSR', method: 'POST', path: '/admin/ca/certificates', ok: 'Issue', fields: [
      { name: 'csr', label: 'Certificate signing request (PEM)', type: 'textarea', rows: 10, required: true, placeholder: '-----BEGIN CERTIFICATE REQUEST-----' }] },
    actions: [{ label: 'Revoke', method: 'POST', path: '/admin/ca/certificates/{serial}/revoke', danger: true, when: (r) => !r.revoked_at,
      confirm: 'Revoke certificate {x}? It is listed on the next CRL.' }] },

  { id: 'gateway-routes', title: 'Gateway routes', list: '/admin/gateway/routes', key: 'name', label: 'name',
    columns: [{ key: 'name', label: 'Route' }, { key: 'path_prefix', label: 'Path prefix', format: 'code' }, { key: 'upstream', label: 'Upstream' },
      { key: 'schemes', label: 'Schemes' }],
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/gateway/routes/{name}', danger: true }] },

  { id: 'audit', title: 'Audit log', list: '/admin/audit', items: 'events', tail: true, label: 'id',
    filters: [{ name: 'since', label: 'Since (RFC 3339)', placeholder: '2026-01-01T00:00:00Z' }, { name: 'until', label: 'Until (RFC 3339)' },
      { name: 'org', label: 'Organisation ID' }, { name: 'principal', label: 'Principal ID' }, { name: 'action', label: 'Action' },
      { name: 'protocol', label: 'Protocol' }, { name: 'result', label: 'Result', type: 'select', options: ['', 'success', 'failure'] }],
    columns: [time('at', 'Time (UTC)'), { key: 'action', label: 'Action' }, { key: 'protocol', label: 'Protocol' }, { key: 'result', label: 'Result' },
      { key: 'subject', label: 'Subject', format: 'code' }, { key: 'reason', label: 'Reason' }, { key: 'org_id', label: 'Organisation', format: 'code' },
      { key: 'remote_addr', label: 'Address' }] },
];

// dashboard renders GET /admin/stats: requests and denials per family in
// the last hour, certificates expiring within 30 days, failed callbacks,
// limiter refusals. Cards are laid out before the answer arrives, so
// filling them moves nothing.
function dashboard({ content, status, call, seq }) {
  const card = (id, title) => {
    const value = el('p', { class: 'big', id: 'stat-' + id, text: '—' });
    const note = el('p', { class: 'muted note', id: 'note-' + id, text: '\u00a0' });
    content.querySelector('.cards').append(el('section', { class: 'card stat', 'aria-labelledby': 'h-' + id }, el('h2', { id: 'h-' + id, text: title }), value, note));
    return { value, note };
  };
  content.append(el('div', { class: 'cards' }));
  const cards = {
    requests: card('requests', 'Requests, last hour'), denials: card('denials', 'Denials, last hour'),
    expiring: card('expiring', 'Certificates expiring ≤ 30 days'), callbacks: card('callbacks', 'Failed callbacks'),
    limited: card('limited', 'Limiter refusals, last hour'),
  };
  const table = el('table', { class: 'list', id: 'families' },
    el('caption', { text: 'Per family, last hour' }),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Family' }), el('th', { scope: 'col', text: 'Requests' }), el('th', { scope: 'col', text: 'Denials' }))));
  const tbody = el('tbody');
  table.append(tbody);
  const exp = el('table', { class: 'list', id: 'expiring' },
    el('caption', { text: 'Certificates expiring within 30 days' }),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col', text: 'Serial' }), el('th', { scope: 'col', text: 'Subject' }), el('th', { scope: 'col', text: 'Expires' }))));
  const expBody = el('tbody');
  exp.append(expBody);
  content.append(table, exp);
  call('GET', '/admin/stats').then((s) => {
    if (!seq()) return;
    const fams = s.families || [];
    const sum = (k) => fams.reduce((n, f) => n + (Number(f[k]) || 0), 0);
    cards.requests.value.textContent = String(sum('requests'));
    cards.denials.value.textContent = String(sum('denials'));
    const certs = s.expiring_certificates || [];
    cards.expiring.value.textContent = String(certs.length);
    cards.callbacks.value.textContent = String(s.failed_callbacks ?? 0);
    cards.limited.value.textContent = String(s.limiter_refusals ?? 0);
    if (s.window_start) cards.requests.note.textContent = 'since ' + iso(s.window_start);
    for (const f of fams) tbody.append(el('tr', {}, el('td', { 'data-label': 'Family', text: f.family }), el('td', { 'data-label': 'Requests', text: text(f.requests) }), el('td', { 'data-label': 'Denials', text: text(f.denials) })));
    for (const c of certs) {
      expBody.append(el('tr', {}, el('td', { 'data-label': 'Serial' }, el('code', { text: text(c.serial) })), el('td', { 'data-label': 'Subject', text: text(c.subject) }),
        el('td', { 'data-label': 'Expires', class: 'expiring' }, el('time', { datetime: iso(c.not_after), text: iso(c.not_after) }))));
    }
    status('As of ' + iso(s.at || new Date()));
  }).catch((e) => status('Could not load: ' + e.message));
}
