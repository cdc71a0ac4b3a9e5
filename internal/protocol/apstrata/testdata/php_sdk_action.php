<?php
// Signs and sends one Apstrata call of any action the way the PHP SDK
// does, as the owner (LOGIN "") or a user or device:
//   default signature: HMAC-SHA1, lower-case hex, over the real method,
//     the protocol's encoding of the service URL + /authKey/action and of
//     every parameter (apsws.user included), sorted;
//   simple signature (apsws.authMode=simple): MD5(time + authKey + action
//     + key), the PHP SDK hashing the authKey for users too;
// key is the owner's secret, or UPPER(MD5(password)) for users. The query
// (or POST body) is built by concatenation with apsws.user unencoded.
// Usage: php php_sdk_action.php SERVICE AUTHKEY ACTION MODE LOGIN KEY TIME METHOD [name=value ...]
[$self, $service, $authKey, $action, $mode, $login, $secret, $time, $method] = array_slice($argv, 0, 9);
$extra = [];
foreach (array_slice($argv, 9) as $kv) { [$k, $v] = explode('=', $kv, 2); $extra[$k] = $v; }

function enc($s) { return str_replace('~', '%7E', rawurlencode($s)); }

$params = ['apsws.time' => $time];
if ($login !== '') { $params['apsws.user'] = $login; }
$params['apsws.responseType'] = 'json';
if ($mode === 'simple') { $params['apsws.authMode'] = 'simple'; }
$params = array_merge($params, $extra);
$key = $login === '' ? $secret : strtoupper(md5($secret));

if ($mode === 'simple') {
    $sig = md5($time . $authKey . $action . $key);
} else {
    $pairs = [];
    foreach ($params as $k => $v) { $pairs[] = enc($k) . '=' . enc($v); }
    sort($pairs, SORT_STRING);
    $sts = strtoupper($method) . "\n" . enc($service . '/' . $authKey . '/' . $action) . "\n" . implode('&', $pairs);
    $sig = hash_hmac('sha1', $sts, $key);
}

$parts = [];
foreach ($params as $k => $v) { $parts[] = $k === 'apsws.user' ? $k . '=' . $v : enc($k) . '=' . enc($v); }
$query = implode('&', $parts) . '&apsws.authSig=' . $sig;
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
