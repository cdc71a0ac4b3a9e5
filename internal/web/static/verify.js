'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  function show(res) {
    $('verdict').textContent = res.valid
      ? 'Valid: every check passes (the jti is not spent here)'
      : 'Invalid: check "' + res.first_failure.check + '" fails: ' + res.first_failure.reason;
    $('verdict').className = res.valid ? 'ok' : 'fail';
    const list = $('checks');
    list.replaceChildren();
    for (const c of res.checks) {
      const li = document.createElement('li');
      li.className = c.ok ? 'ok' : 'fail';
      li.dataset.check = c.check;
      li.textContent = (c.ok ? 'pass ' : 'FAIL ') + c.check + (c.reason ? ': ' + c.reason : '');
      list.appendChild(li);
    }
    $('decoded-header').textContent = res.header ? JSON.stringify(res.header, null, 2) : '';
    $('decoded-claims').textContent = res.claims ? JSON.stringify(res.claims, null, 2) : '';
    $('server-canonical').textContent = res.server_canonical || '';
    $('server-edts').textContent = res.server_edts ? 'edts computed by the server: ' + res.server_edts : '';
  }

  async function verify() {
    $('error').textContent = '';
    const headers = {};
    if ($('content-type').value !== '') headers['Content-Type'] = $('content-type').value;
    if ($('authorization').value !== '') headers['Authorization'] = $('authorization').value;
    const req = {
      token: $('token').value.trim(), route: $('route').value, method: $('http-method').value,
      uri: $('uri').value, headers: headers, body: $('body').value, public_key: $('public-key').value,
    };
    try {
      const resp = await fetch('/taap/v1/pop/explain', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(req),
        credentials: 'omit', cache: 'no-store',
      });
      const res = await resp.json();
      if (!resp.ok) throw new Error(res.error_description || res.error || ('HTTP ' + resp.status));
      show(res);
    } catch (e) {
      $('error').textContent = e.message;
    }
  }

  $('verify').addEventListener('click', verify);
})();
