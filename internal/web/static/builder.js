'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  async function generate() {
    $('error').textContent = '';
    $('token').value = '';
    try {
      if (!window.isSecureContext || !crypto.subtle) {
        throw new Error('WebCrypto needs a secure context: open this page over https or on localhost');
      }
      const parts = [];
      for (const [id, name] of [['content-type', 'Content-Type'], ['authorization', 'Authorization']]) {
        const v = $(id).value;
        if (v !== '') parts.push([name, v]);
      }
      const uri = $('uri').value;
      if (!uri.startsWith('/')) throw new Error('URI must be the path (and ?query) as sent, starting with "/", without scheme or host');
      const method = $('http-method').value;
      if (method === '') throw new Error('HTTP-Method is required, exactly as sent (e.g. GET)');
      parts.push(['uri', uri], ['http-method', method], ['body', $('body').value]);
      const key = await PoP.importKey($('private-key').value);
      const out = await PoP.build(parts, key);
      $('decoded-header').textContent = JSON.stringify(out.header, null, 2);
      $('decoded-claims').textContent = JSON.stringify(out.claims, null, 2);
      $('canonical').textContent = out.canonical;
      $('public-key').value = JSON.stringify(await PoP.publicJWK(key));
      $('token').value = out.token;
    } catch (e) {
      $('error').textContent = e.message;
    }
  }

  $('generate').addEventListener('click', generate);
})();
