// One definition per page: the admin API routes it reads and writes, its
// columns, create form and row actions. The page shows in the navigation
// when the server serves its list route; write actions show when the
// session may write (admins) and the server serves the route.
import { el, iso, text } from './ui.js';

// secretFields are the answer fields of a create that hold a secret: shown
// once, with a copy button.
export const secretFields = ['secret', 'client_secret', 'application_secret', 'password', 'm2m_api_key', 'api_key'];

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
    filters: [{ name: 'org', label: 'Organisation ID', sessionDefault: 'org_id' },
      { name: 'kind', label: 'Kind', type: 'select', options: [''].concat(principalKinds) }],
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

  { id: 'taap-clients', title: 'TAAP clients', list: '/admin/taap/clients', key: 'client_id', label: 'name',
    filters: [{ name: 'org', label: 'Organisation ID' }],
    columns: [{ key: 'name', label: 'Name' }, { key: 'client_id', label: 'Client ID', format: 'code', size: 'l' }, { key: 'org_id', label: 'Organisation', format: 'code' },
      { key: 'scope', label: 'Scope' }, { key: 'disabled', label: 'Disabled', format: 'bool' }, time('created_at', 'Created')],
    create: { label: 'New TAAP client', method: 'POST', path: '/admin/taap/clients', fields: [
      { name: 'name', label: 'Name', required: true }, { name: 'org_id', label: 'Organisation ID (empty: a new one named after the client)' },
      { name: 'public_key', label: 'PoP public key (PEM or JWK)', type: 'textarea', rows: 6, required: true }, { name: 'scope', label: 'Scope' }],
    body: (v) => { const { public_key: k, ...rest } = v; return { ...rest, public_keys: [k] }; } },
    links: [{ label: 'Keys', page: 'taap-keys', params: (r) => ({ id: r.client_id }) }],
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/taap/clients/{client_id}', route: '/admin/taap/clients/{id}', danger: true,
      confirm: 'Delete TAAP client {x}? Its secret, keys and tokens are revoked.' }] },
  { id: 'taap-keys', parent: 'taap-clients', title: 'TAAP client keys', list: '/admin/taap/clients/{id}/keys', key: 'kid', label: 'kid',
    subtitle: (p) => 'Client ' + p.id, query: { include_revoked: 'true' },
    columns: [{ key: 'kid', label: 'Key ID (RFC 7638)', format: 'code', size: 'l' }, time('created_at', 'Created'), time('revoked_at', 'Revoked')],
    create: { label: 'Add key', method: 'POST', path: '/admin/taap/clients/{id}/keys', fields: [{ name: 'public_key', label: 'Public key (PEM or JWK)', type: 'textarea', required: true }] },
    actions: [{ label: 'Revoke', method: 'POST', path: '/admin/taap/clients/{client_id}/keys/{kid}/revoke', route: '/admin/taap/clients/{id}/keys/{kid}/revoke',
      danger: true, when: (r) => !r.revoked_at, confirm: 'Revoke key {x}? PoP tokens it signs are refused.' }] },
  { id: 'taap-sims', title: 'TAAP SIMs', list: '/admin/taap/sims', key: 'iccid', label: 'iccid',
    filters: [{ name: 'org', label: 'Organisation ID' }],
    columns: [{ key: 'iccid', label: 'ICCID', format: 'code' }, { key: 'imsi', label: 'IMSI', format: 'code' }, { key: 'msisdn', label: 'MSISDN' },
      { key: 'status', label: 'Status' }, { key: 'label', label: 'Label' }, { key: 'org_id', label: 'Organisation', format: 'code' }, time('created_at', 'Created')],
    create: { label: 'Add SIM', method: 'POST', path: '/admin/taap/sims', fields: [
      { name: 'org_id', label: 'Organisation ID', required: true }, { name: 'iccid', label: 'ICCID (19-20 digits, Luhn)', required: true },
      { name: 'imsi', label: 'IMSI' }, { name: 'msisdn', label: 'MSISDN' },
      { name: 'status', label: 'Status', type: 'select', options: ['active', 'inactive', 'suspended', 'deactivated'] }, { name: 'label', label: 'Label' }] },
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/taap/sims/{iccid}', danger: true }] },

  { id: 'tpv-brands', title: 'TPV brands', list: '/admin/tpv/brands', key: 'brand_id', label: 'name',
    filters: [{ name: 'org', label: 'Organisation ID' }],
    columns: [{ key: 'name', label: 'Brand' }, { key: 'brand_id', label: 'Brand ID', format: 'code' }, { key: 'application_token', label: 'Application token', format: 'code', size: 'l' },
      { key: 'org_id', label: 'Organisation', format: 'code' }, { key: 'disabled', label: 'Disabled', format: 'bool' }, time('created_at', 'Created')],
    create: { label: 'New brand', method: 'POST', path: '/admin/tpv/brands', fields: [
      { name: 'name', label: 'Brand name', required: true }, { name: 'org_id', label: 'Organisation ID (empty: a new one named after the brand)' }] },
    links: [{ label: 'Products', page: 'tpv-products', params: (r) => ({ id: r.brand_id }) }],
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/tpv/brands/{brand_id}', route: '/admin/tpv/brands/{id}', danger: true,
      confirm: 'Delete brand {x}? Its application token and auth tokens are revoked.' }] },
  { id: 'tpv-products', parent: 'tpv-brands', title: 'TPV products', list: '/admin/tpv/brands/{id}/products', key: 'program_code', label: 'program_code',
    subtitle: (p) => 'Brand ' + p.id,
    columns: [{ key: 'program_code', label: 'Program code', format: 'code' }, { key: 'name', label: 'Name' }, time('created_at', 'Created')],
    create: { label: 'Add product', method: 'POST', path: '/admin/tpv/brands/{id}/products', fields: [
      { name: 'program_code', label: 'Program code', required: true }, { name: 'name', label: 'Name', required: true }] },
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/tpv/brands/{id}/products/{program_code}', route: '/admin/tpv/brands/{id}/products/{code}', danger: true }] },

  { id: 'apstrata-accounts', title: 'Apstrata accounts', list: '/admin/apstrata/accounts', key: 'auth_key', label: 'name',
    filters: [{ name: 'org', label: 'Organisation ID' }],
    columns: [{ key: 'name', label: 'Name' }, { key: 'auth_key', label: 'Auth key', format: 'code', size: 'l' }, { key: 'org_id', label: 'Organisation', format: 'code' },
      time('created_at', 'Created'), time('deleted_at', 'Deleted')],
    create: { label: 'New account', method: 'POST', path: '/admin/apstrata/accounts', fields: [{ name: 'name', label: 'Name', required: true }] },
    links: [{ label: 'Members', page: 'apstrata-members', params: (r) => ({ id: r.auth_key }) }],
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/apstrata/accounts/{auth_key}', route: '/admin/apstrata/accounts/{id}', danger: true, when: (r) => !r.deleted_at,
      confirm: 'Delete account {x}? Its keys and its members\' passwords stop working.' }] },
  { id: 'apstrata-members', parent: 'apstrata-accounts', title: 'Apstrata members', list: '/admin/apstrata/accounts/{id}/members', key: 'name', label: 'name',
    subtitle: (p) => 'Account ' + p.id,
    columns: [{ key: 'name', label: 'Login' }, { key: 'kind', label: 'Kind' }, { key: 'disabled', label: 'Disabled', format: 'bool' }, time('created_at', 'Created'), time('deleted_at', 'Deleted')],
    create: { label: 'Add member', method: 'POST', path: '/admin/apstrata/accounts/{id}/members', fields: [
      { name: 'name', label: 'Login', required: true }, { name: 'device', label: 'A device (not a user)', type: 'checkbox' }] },
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/apstrata/accounts/{auth_key}/members/{name}', route: '/admin/apstrata/accounts/{id}/members/{name}', danger: true,
      when: (r) => !r.deleted_at }] },

  { id: 'm2m-partners', title: 'M2M partners', list: '/admin/m2m/partners', key: 'name', label: 'name',
    filters: [{ name: 'org', label: 'Organisation ID' }],
    columns: [{ key: 'name', label: 'Partner' }, { key: 'envs', label: 'Environments' }, { key: 'sender_id', label: 'Sender ID' }, { key: 'partner_id', label: 'Partner ID' },
      { key: 'org_id', label: 'Organisation', format: 'code' }, { key: 'adm_cl_url', label: 'M2MAdmCl' }, { key: 'mon_cl_url', label: 'M2MMonCl' }] },
  { id: 'm2m-apikeys', title: 'M2M API keys', list: '/admin/m2m/apikeys', label: 'lookup',
    filters: [{ name: 'partner', label: 'Partner' }, { name: 'org', label: 'Organisation ID' }],
    columns: [{ key: 'partner', label: 'Partner' }, { key: 'env', label: 'Env', size: 's' }, { key: 'lookup', label: 'Key', format: 'code' },
      { key: 'org_id', label: 'Organisation', format: 'code' }, time('created_at', 'Created'), time('revoked_at', 'Revoked')],
    create: { label: 'New API key', method: 'POST', path: '/admin/m2m/apikeys', fields: [
      { name: 'partner', label: 'Partner', required: true }, { name: 'env', label: 'Environment', type: 'select', options: ['TA', 'PE'] }] },
    actions: [{ label: 'Revoke', method: 'POST', path: '/admin/m2m/apikeys/{id}/revoke', danger: true, when: (r) => !r.revoked_at,
      confirm: 'Revoke M2MApiKey {x}? Requests carrying it are refused.' }] },
  { id: 'm2m-sims', title: 'M2M SIMs', list: '/admin/m2m/sims', key: 'iccid', label: 'iccid',
    filters: [{ name: 'partner', label: 'Partner' }, { name: 'org', label: 'Organisation ID' }],
    columns: [{ key: 'iccid', label: 'ICCID', format: 'code' }, { key: 'env', label: 'Env', size: 's' }, { key: 'partner', label: 'Partner' }, { key: 'state', label: 'State' },
      { key: 'network_state', label: 'Network' }, { key: 'tariff', label: 'Tariff' }, time('last_change', 'Last change')],
    create: { label: 'Add SIM', method: 'POST', path: '/admin/m2m/sims', fields: [
      { name: 'partner', label: 'Partner', required: true }, { name: 'iccid', label: 'ICCID', required: true },
      { name: 'env', label: 'Environment', type: 'select', options: ['TA', 'PE'] }, { name: 'tariff', label: 'Tariff (empty: M2M_BASIC)' }] },
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/m2m/sims/{iccid}?env={env}', route: '/admin/m2m/sims/{id}', danger: true }] },
  { id: 'm2m-outbox', title: 'M2M callback outbox', list: '/admin/m2m/outbox', label: 'id',
    filters: [{ name: 'state', label: 'State', type: 'select', options: ['', 'pending', 'failed', 'done'] },
      { name: 'env', label: 'Environment', type: 'select', options: ['', 'TA', 'PE'] }],
    columns: [{ key: 'id', label: 'Job', format: 'code' }, { key: 'env', label: 'Env', size: 's' }, { key: 'kind', label: 'Kind' }, { key: 'partner', label: 'Partner' },
      { key: 'state', label: 'State' }, { key: 'attempts', label: 'Attempts', size: 's' }, { key: 'last_error', label: 'Last error', size: 'l' },
      time('next_attempt_at', 'Next attempt'), time('failed_at', 'Failed')],
    actions: [{ label: 'Requeue', method: 'POST', path: '/admin/m2m/outbox/{id}/requeue', when: (r) => r.state === 'failed', confirm: 'Run job {x} once more, now?' }] },

  { id: 'subscriptions', title: 'Subscriptions', list: '/admin/subscriptions', label: 'id',
    filters: [{ name: 'org', label: 'Organisation ID' }],
    // Each listed subscription carries its usage now: used / limit of the
    // current rate and quota windows, and when each resets.
    columns: [{ key: 'org_id', label: 'Organisation', format: 'code' }, { key: 'principal_id', label: 'Principal', format: 'code' },
      { key: 'resource', label: 'Resource' }, { key: 'plan', label: 'Plan' },
      { key: 'rate', label: 'Rate used', format: 'window', value: (r) => r.usage && r.usage.rate },
      { key: 'quota', label: 'Quota used', format: 'window', value: (r) => r.usage && r.usage.quota },
      time('created_at', 'Created')],
    create: { label: 'Subscribe', method: 'POST', path: '/admin/subscriptions', fields: [
      { name: 'org_id', label: 'Organisation ID', required: true }, { name: 'principal_id', label: 'Principal ID (empty: the whole organisation)' },
      { name: 'resource', label: 'Resource', required: true }, { name: 'plan', label: 'Plan' }] },
    actions: [{ label: 'Unsubscribe', id: 'delete', method: 'DELETE', path: '/admin/subscriptions/{id}', danger: true, confirm: 'End subscription {x}?' }] },
  { id: 'plans', title: 'Plans', list: '/admin/subscriptions/plans', key: 'name', label: 'name',
    columns: [{ key: 'name', label: 'Plan' }, { key: 'description', label: 'Description' }, { key: 'rate', label: 'Rate' }, { key: 'rate_period', label: 'Per' },
      { key: 'quota', label: 'Quota' }, { key: 'quota_period', label: 'Quota period' }, time('created_at', 'Created')],
    create: { label: 'New plan', method: 'POST', path: '/admin/subscriptions/plans', fields: [
      { name: 'name', label: 'Name', required: true }, { name: 'description', label: 'Description' },
      { name: 'rate', label: 'Rate (requests)', type: 'number' }, { name: 'rate_period', label: 'Rate period', placeholder: '1s' },
      { name: 'quota', label: 'Quota (requests)', type: 'number' }, { name: 'quota_period', label: 'Quota period', placeholder: '24h' }] },
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/subscriptions/plans/{name}', danger: true }] },
  { id: 'resources', title: 'API resources', list: '/admin/subscriptions/resources', key: 'name', label: 'name',
    columns: [{ key: 'name', label: 'Resource' }, { key: 'path_prefixes', label: 'Paths', format: 'code' }, { key: 'methods', label: 'Methods' },
      { key: 'schemes', label: 'Schemes' }, time('created_at', 'Created')],
    create: { label: 'New resource', method: 'POST', path: '/admin/subscriptions/resources', fields: [
      { name: 'name', label: 'Name', required: true }, { name: 'description', label: 'Description' },
      { name: 'path_prefixes', label: 'Path prefixes (comma-separated)', list: true, required: true },
      { name: 'methods', label: 'Methods (comma-separated; empty: all)', list: true }, { name: 'schemes', label: 'Schemes (comma-separated; empty: all)', list: true }] },
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/subscriptions/resources/{name}', danger: true }] },

  { id: 'certificates', title: 'CA certificates', list: '/admin/ca/certificates', key: 'serial', label: 'serial',
    columns: [{ key: 'serial', label: 'Serial', format: 'code', size: 'l' }, { key: 'subject', label: 'Subject', size: 'l' }, { key: 'profile', label: 'Profile' },
      { key: 'environment', label: 'Env', size: 's' }, { key: 'issuer_ref', label: 'Issuer' }, { key: 'not_after', label: 'Expires', format: 'expiry' },
      { key: 'status', label: 'Status' }, time('revoked_at', 'Revoked')],
    downloads: [{ id: 'download-crl', label: 'Download CRL', path: '/admin/ca/crl', file: 'authgate.crl' }],
    create: { label: 'Issue from CSR', method: 'POST', path: '/admin/ca/certificates', ok: 'Issue', fields: [
      { name: 'csr', label: 'Certificate signing request (PEM)', type: 'textarea', rows: 10, required: true, placeholder: '-----BEGIN CERTIFICATE REQUEST-----' },
      { name: 'profile', label: 'Profile', type: 'select', options: ['signing', 'ssl-server'], required: true },
      { name: 'environment', label: 'Environment', type: 'select', options: ['TA', 'PE'], required: true },
      { name: 'validity_days', label: 'Validity (days; empty: the default)', type: 'number' },
      { name: 'organisation', label: 'Organisation (O) the subject must name' }] },
    actions: [{ label: 'Revoke', method: 'POST', path: '/admin/ca/certificates/{serial}/revoke', danger: true, when: (r) => !r.revoked_at,
      confirm: 'Revoke certificate {x}? It is listed on the next CRL.',
      fields: [{ name: 'reason', label: 'Reason', type: 'select', options: ['', 'keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation'] }],
      body: (v) => (v.reason ? { reason: v.reason } : {}) }] },

  { id: 'gateway-routes', title: 'Gateway routes', list: '/admin/gateway/routes', key: 'name', label: 'name',
    columns: [{ key: 'name', label: 'Route' }, { key: 'path_prefix', label: 'Path prefix', format: 'code' }, { key: 'upstreams', label: 'Upstreams' },
      { key: 'schemes', label: 'Schemes' }, { key: 'resource', label: 'Resource' }, { key: 'source', label: 'Source' }, { key: 'problem', label: 'Problem' }],
    create: { label: 'New route', method: 'POST', path: '/admin/gateway/routes', fields: [
      { name: 'name', label: 'Name', required: true }, { name: 'path_prefix', label: 'Path prefix', required: true, placeholder: '/api' },
      { name: 'upstreams', label: 'Upstreams (comma-separated URLs)', list: true, required: true },
      { name: 'schemes', label: 'Schemes (comma-separated)', list: true, required: true, placeholder: 'oauth2-bearer' },
      { name: 'resource', label: 'Subscription resource' }, { name: 'strip_prefix', label: 'Strip the prefix', type: 'checkbox' }] },
    actions: [{ label: 'Delete', method: 'DELETE', path: '/admin/gateway/routes/{name}', danger: true, when: (r) => r.source !== 'config' }] },

  { id: 'audit', title: 'Audit log', list: '/admin/audit', items: 'events', tail: true, label: 'id',
    filters: [{ name: 'since', label: 'Since (RFC 3339)', placeholder: '2026-01-01T00:00:00Z' }, { name: 'until', label: 'Until (RFC 3339)' },
      { name: 'org', label: 'Organisation ID' }, { name: 'principal', label: 'Principal ID' }, { name: 'action', label: 'Action' },
      { name: 'protocol', label: 'Protocol' }, { name: 'result', label: 'Result', type: 'select', options: ['', 'success', 'failure'] }],
    columns: [time('at', 'Time (UTC)'), { key: 'action', label: 'Action' }, { key: 'protocol', label: 'Protocol', size: 's' }, { key: 'result', label: 'Result' },
      { key: 'subject', label: 'Subject', format: 'code', size: 'l' }, { key: 'reason', label: 'Reason', size: 'l' }, { key: 'org_id', label: 'Organisation', format: 'code' },
      { key: 'remote_addr', label: 'Address' }] },
];

// dashboard renders GET /admin/stats: requests, denials and limiter
// refusals per family over the last hour, certificates expiring within 30
// days, failed callbacks. The cards are laid out before the answer
// arrives and the tables are inserted whole below them, so nothing moves.
function dashboard({ content, status, call, seq }) {
  const cards = el('div', { class: 'cards' });
  content.append(cards);
  const card = (id, title) => {
    const value = el('p', { class: 'big', id: 'stat-' + id, text: '—' });
    const note = el('p', { class: 'muted note', id: 'note-' + id, text: '\u00a0' });
    cards.append(el('section', { class: 'card stat', 'aria-labelledby': 'h-' + id }, el('h2', { id: 'h-' + id, text: title }), value, note));
    return { value, note };
  };
  const c = {
    requests: card('requests', 'Requests, last hour'), denials: card('denials', 'Denials, last hour'),
    limited: card('limited', 'Limiter refusals, last hour'), expiring: card('expiring', 'Certificates expiring within 30 days'),
    callbacks: card('callbacks', 'Failed callbacks'),
  };
  const th = (t) => el('th', { scope: 'col', text: t });
  const td = (label, v, cls) => el('td', { 'data-label': label, class: cls, text: text(v) });
  call('GET', '/admin/stats').then((s) => {
    if (!seq()) return;
    const win = s.window_minutes ? s.window_minutes + ' min' : 'last hour';
    c.requests.value.textContent = String(s.totals?.requests ?? 0);
    c.denials.value.textContent = String(s.totals?.denials ?? 0);
    c.limited.value.textContent = String(s.totals?.limited ?? 0);
    c.requests.note.textContent = 'this node, ' + win;
    const certs = s.certificates || {};
    c.expiring.value.textContent = String(certs.count ?? 0);
    c.expiring.note.textContent = certs.truncated ? 'more not counted' : 'served, CA and issued';
    const cb = s.callbacks || {};
    c.callbacks.value.textContent = String(cb.failed ?? 0);
    c.callbacks.note.textContent = (cb.pending ?? 0) + ' pending';
    const fam = el('table', { class: 'list', id: 'families' }, el('caption', { text: 'Per family, ' + win }),
      el('thead', {}, el('tr', {}, th('Family'), th('Requests'), th('Denials'), th('Limiter refusals'))));
    const fb = el('tbody');
    for (const f of s.families || []) fb.append(el('tr', {}, td('Family', f.family), td('Requests', f.requests), td('Denials', f.denials), td('Limiter refusals', f.limited)));
    fam.append(fb);
    const exp = el('table', { class: 'list', id: 'expiring' }, el('caption', { text: 'Certificates expiring within ' + (certs.within_days || 30) + ' days' }),
      el('thead', {}, el('tr', {}, th('Source'), th('Subject'), th('Serial'), th('Expires'))));
    const eb = el('tbody');
    for (const x of certs.items || []) {
      eb.append(el('tr', {}, td('Source', x.source), td('Subject', x.subject), el('td', { 'data-label': 'Serial' }, el('code', { text: text(x.serial) })),
        el('td', { 'data-label': 'Expires', class: x.expires_in_days < 0 ? 'expired' : 'expiring' },
          el('time', { datetime: iso(x.not_after), text: iso(x.not_after) }), ' (' + x.expires_in_days + ' d)')));
    }
    exp.append(eb);
    content.append(fam, exp);
    status('As of ' + iso(s.generated_at) + (s.unavailable && s.unavailable.length ? ' · unavailable now: ' + s.unavailable.join(', ') : ''));
  }).catch((e) => status('Could not load: ' + e.message));
}
