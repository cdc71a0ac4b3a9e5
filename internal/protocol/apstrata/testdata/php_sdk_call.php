<?php
// Signs and sends one Apstrata call the way the PHP SDK does: the default
// signature over the protocol's encoding of every parameter (apsws.user
// included), while the query string is built by concatenation with
// apsws.user left unencoded, so a "+" in the login reaches the server as
// a literal "+". Usage: php php_sdk_call.php URL AUTHKEY ACTION LOGIN PASSWORD TIME METHOD
[$self, $service, $authKey, $action, $login, $password, $time, $method] = $argv;

function enc($s) { return str_replace('~', '%7E', rawurlencode($s)); }

$params = ['apsws.time' => $time, 'apsws.user' => $login, 'apsws.responseType' => 'json'];
$pairs = [];
foreach ($params as $k => $v) { $pairs[] = enc($k) . '=' . enc($v); }
sort($pairs, SORT_STRING);
$sts = strtoupper($method) . "\n" . enc($service . '/' . $authKey . '/' . $action) . "\n" . implode('&', $pairs);
$key = strtoupper(md5($password));
$sig = hash_hmac('sha1', $sts, $key);

$query = 'apsws.time=' . $time . '&apsws.user=' . $login . '&apsws.responseType=json&apsws.authSig=' . $sig;
$url = $service . '/' . $authKey . '/' . $action;
$ch = curl_init();
if ($method === 'POST') {
    curl_setopt($ch, CURLOPT_URL, $url);
    curl_setopt($ch, CURLOPT_POST, 1);
    curl_setopt($ch, CURLOPT_POSTFIELDS, $query);
} else {
    curl_setopt($ch, CURLOPT_URL, $url . '?' . $query);
}
curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
curl_setopt($ch, CURLOPT_SSL_VERIFYHOST, 0);
curl_setopt($ch, CURLOPT_SSL_VERIFYPEER, 0);
$out = curl_exec($ch);
if ($out === false) { fwrite(STDERR, curl_error($ch) . "\n"); exit(1); }
echo curl_getinfo($ch, CURLINFO_HTTP_CODE), "\n", $out, "\n";
