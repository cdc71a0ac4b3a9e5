// DOM helpers: every text goes through textContent (never innerHTML), so
// nothing the server returns is ever parsed as markup.

export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v === true) e.setAttribute(k, '');
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function clear(node) { while (node.firstChild) node.firstChild.remove(); }

// iso shows a time as ISO 8601 in UTC, to the second.
export function iso(v) {
  if (!v) return '';
  const d = new Date(v);
  if (isNaN(d.getTime())) return String(v);
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// daysUntil is the number of days from now until v (negative: past).
export function daysUntil(v) {
  const d = new Date(v);
  if (isNaN(d.getTime())) return Infinity;
  return (d.getTime() - Date.now()) / 86400000;
}

export function text(v) {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.map(text).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

// The one dialog of the page (a native <dialog>: Escape closes it, focus
// stays inside while it is open and returns to the opener after).
const dialog = () => document.getElementById('dialog');

// openDialog shows title and the body nodes; onSubmit runs on OK and may
// throw to keep the dialog open with the error shown. okLabel "" hides OK.
export function openDialog({ title, body, okLabel = 'OK', cancelLabel = 'Cancel', onSubmit }) {
  const d = dialog();
  const opener = document.activeElement;
  document.getElementById('dialog-title').textContent = title;
  const b = document.getElementById('dialog-body');
  clear(b);
  b.append(...[body].flat());
  const err = document.getElementById('dialog-error');
  err.textContent = '';
  const ok = document.getElementById('dialog-ok');
  ok.textContent = okLabel;
  ok.hidden = !okLabel;
  ok.disabled = false;
  document.getElementById('dialog-cancel').textContent = cancelLabel;
  const form = document.getElementById('dialog-form');
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    if (!onSubmit) { d.close(); return; }
    ok.disabled = true;
    err.textContent = '';
    try {
      const keep = await onSubmit();
      if (keep !== true) d.close();
    } catch (e) {
      err.textContent = e.message + (e.reasons && e.reasons.length > 1 ? ': ' + e.reasons.join('; ') : '');
    } finally {
      ok.disabled = false;
    }
  };
  document.getElementById('dialog-cancel').onclick = () => d.close();
  d.onclose = () => { if (opener && opener.isConnected) opener.focus(); };
  d.showModal();
  const first = b.querySelector('input, select, textarea, button');
  (first || (ok.hidden ? document.getElementById('dialog-cancel') : ok)).focus();
}

export function closeDialog() { if (dialog().open) dialog().close(); }

// field is a labelled form control of a create form or a filter.
export function field(f, prefix) {
  const id = prefix + '-' + f.name;
  let input;
  if (f.type === 'select') {
    input = el('select', { id, name: f.name, required: f.required });
    for (const o of f.options) input.append(el('option', { value: o, text: o || '(any)' }));
  } else if (f.type === 'textarea') {
    input = el('textarea', { id, name: f.name, rows: f.rows || 8, required: f.required, spellcheck: 'false', placeholder: f.placeholder });
  } else if (f.type === 'checkbox') {
    input = el('input', { id, name: f.name, type: 'checkbox' });
  } else {
    input = el('input', { id, name: f.name, type: f.type || 'text', required: f.required, placeholder: f.placeholder,
      autocomplete: 'off', spellcheck: 'false', inputmode: f.type === 'number' ? 'numeric' : undefined });
  }
  if (f.value !== undefined) {
    if (f.type === 'checkbox') input.checked = !!f.value; else input.value = f.value;
  }
  const wrap = el('div', { class: 'field' + (f.type === 'checkbox' ? ' check' : '') },
    el('label', { for: id, text: f.label + (f.required ? ' (required)' : '') }), input);
  if (f.help) wrap.append(el('small', { class: 'muted', text: f.help }));
  return wrap;
}

// values reads the controls of fields under root: strings trimmed, numbers
// as numbers, checkboxes as booleans, lists split on commas; empty values
// are left out.
export function values(fields, root, prefix) {
  const out = {};
  for (const f of fields) {
    const input = root.querySelector('#' + CSS.escape(prefix + '-' + f.name));
    if (!input) continue;
    if (f.type === 'checkbox') { out[f.name] = input.checked; continue; }
    const v = input.value.trim();
    if (v === '') continue;
    if (f.type === 'number') out[f.name] = Number(v);
    else if (f.list) out[f.name] = v.split(',').map(s => s.trim()).filter(Boolean);
    else out[f.name] = f.type === 'textarea' ? input.value : v;
  }
  return out;
}

// copyButton copies value to the clipboard; the button says it did.
export function copyButton(value, label) {
  const b = el('button', { type: 'button', class: 'copy', 'data-copy': 'true', 'aria-label': 'Copy ' + label, text: 'Copy' });
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(value);
      b.textContent = 'Copied';
      b.dataset.copied = 'true';
    } catch (e) {
      b.textContent = 'Copy failed';
    }
  });
  return b;
}
