// The console's only way to the server: same-origin fetches of the admin
// API and the session routes. The session cookie goes by itself (HttpOnly,
// the page never sees it); state changes carry the session's CSRF token.

let csrf = '';

export function setCSRF(token) { csrf = token || ''; }

export class APIError extends Error {
  constructor(status, body) {
    super((body && (body.error_description || body.error)) || ('HTTP ' + status));
    this.status = status;
    this.reasons = (body && body.reasons) || [];
  }
}

// call sends one request and returns the decoded JSON answer (null for 204).
export async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  const opts = { method, headers, credentials: 'same-origin', cache: 'no-store', redirect: 'error' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  if (r.status === 204) return null;
  const type = r.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await r.json().catch(() => null) : await r.text();
  if (!r.ok) {
    const err = new APIError(r.status, typeof data === 'object' ? data : null);
    if (r.status === 401) window.dispatchEvent(new CustomEvent('console:signedout'));
    throw err;
  }
  return data;
}

// fill puts the values of obj into a route path's {wildcards}.
export function fill(path, obj) {
  return path.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, k) => encodeURIComponent(String(obj[k] ?? '')));
}

// withQuery appends the non-empty values of params as a query string.
export function withQuery(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? path + (path.includes('?') ? '&' : '?') + s : path;
}
