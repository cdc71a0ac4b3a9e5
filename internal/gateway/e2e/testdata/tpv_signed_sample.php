<?php
$token = "(token here)";
$appSecret = "(application secret)";
$timestamp = time();
$url = "(client portal)";
$auth = auth($url, $token, $appSecret);
if ($auth) {
$auth_token = $auth['auth_token'];
echo "API Authenticated :: AUTH TOKEN IS " . $auth_token . "\n";
$data = [
"digital_delivery" => "email",
"channel" => "dtd",
"language" => "english",
"external_id" => null,
"market" => "residential",
"company_name" => null,
"authorizing_first_name" => "John",
"authorizing_last_name" => "Williams",
"billing_first_name" => "John",
"billing_last_name" => "Williams",
"btn" => "12223334444",
"email_address" => "nobody@tpv.com",
"service_address" => "123 Main St.",
"service_city" => "Chicago Ridge",
"service_state" => "IL",
"service_zip" => "60415",
"billing_address" => "123 Main St.",
"billing_city" => "Chicago Ridge",
"billing_state" => "IL",
"billing_zip" => "60415",
"vendor" => "TPV Test",
"sales_agent_id" => "testest",
"products" => [
[
"program_code" => "555",
"account_numbers" => [
[
"account_number" => "123123123123123",
"account_number_label" => "Account Number",
]
]
]
]
];
$tpv = tpvPostTest(
$url,
$auth_token,
$data
);
$confirmation_code = $tpv->success;
echo 'TPV Submission Successful :: Confirmation Code is ' . $confirmation_code . "\n";
if (isset($confirmation_code)) {
$digital = sendDigital(
$url,
$auth_token,
$confirmation_code
);
echo 'DIGITAL :: ' . $digital->success . "\n";
}
}
function auth(
string $url,
string $token,
string $appSecret
) {
$signature = hash_hmac('sha256', 'token=' . $token . '&timestamp=' . time(), $appSecret);
$endpoint = $url . "/api/v1/auth?token=" . $token . "&timestamp=" . time() . "&_signature=" . $signature;
$ch = curl_init($endpoint);
curl_setopt($ch, CURLOPT_POST, 1);
curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
curl_setopt($ch, CURLOPT_VERBOSE, false);
curl_setopt($ch, CURLOPT_DNS_USE_GLOBAL_CACHE, false);
curl_setopt($ch, CURLOPT_DNS_CACHE_TIMEOUT, 2);
curl_setopt($ch, CURLOPT_SSL_VERIFYHOST, 0);
curl_setopt($ch, CURLOPT_SSL_VERIFYPEER, 0);
$response = curl_exec($ch);
if ($response === false) {
echo curl_error($ch);
} else {
return json_decode($response, true);
}
curl_close($ch);
return null;
}
// tpvSign: authgate's per-request Signature (docs/tpv-signature.md): HMAC-SHA256
// under the application secret over method, path, canonical query (none here),
// X-TPV-Timestamp, hex SHA-256 of the body and the auth token, joined by LF.
function tpvSign(string $method, string $path, string $body, string $auth_token): string {
global $appSecret;
$timestamp = (string) time();
$canonical = strtoupper($method) . "\n" . $path . "\n" . "\n" . $timestamp . "\n" . hash('sha256', $body) . "\n" . $auth_token;
return "X-TPV-Timestamp: " . $timestamp . "\r\n" . "Signature: " . hash_hmac('sha256', $canonical, $appSecret) . "\r\n";
}
function tpvPostTest(
string $url,
string $auth_token,
array $fields
) {
$endpoint = $url . "/api/v1/tpv";
$content = json_encode($fields);
$options = array(
'http' => array(
'ignore_errors' => true,
'method' => 'POST',
'content' => $content,
'header' => "Content-Type: application/json\r\n" .
"Accept: application/json\r\n" .
"Authorization: " . $auth_token . "\r\n" .
tpvSign('POST', '/api/v1/tpv', $content, $auth_token)
),
'ssl' => array(
'verify_peer' => false,
),
);
$context = stream_context_create($options);
$result = file_get_contents($endpoint, false, $context);
$response = json_decode($result);
return $response;
}
function sendDigital(
string $url,
string $auth_token,
$confirmation_code
) {
$endpoint = $url . "/api/v1/digital/send/" . $confirmation_code;
$options = array(
'http' => array(
'ignore_errors' => true,
'method' => 'POST',
'content' => null,
'header' => "Content-Type: application/json\r\n" .
"Accept: application/json\r\n" .
"Authorization: " . $auth_token . "\r\n" .
tpvSign('POST', '/api/v1/digital/send/' . $confirmation_code, '', $auth_token)
),
'ssl' => array(
'verify_peer' => false,
),
);
$context = stream_context_create($options);
$result = file_get_contents($endpoint, false, $context);
$response = json_decode($result);
return $response;
}