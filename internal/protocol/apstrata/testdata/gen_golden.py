#!/usr/bin/env python3
"""Writes signatures.json: Apstrata signatures computed independently of
authgate's Go code, from the rules of DESIGN.md family 3, with Python's
hmac/hashlib. Run: python3 gen_golden.py > signatures.json"""
import hashlib, hmac, json

def enc(s):
    # A-Z a-z 0-9 - _ . stay; every other byte is %XX upper-case.
    out = []
    for b in s.encode("utf-8"):
        c = chr(b)
        if c.isascii() and (c.isalnum() or c in "-_."):
            out.append(c)
        else:
            out.append("%%%02X" % b)
    return "".join(out)

def pairs(params, raw_user=False):
    items = []
    for name, value in params:
        if name == "apsws.authSig":
            continue
        v = value if (raw_user and name == "apsws.user") else enc(value)
        items.append(enc(name) + "=" + v)
    return "&".join(sorted(set(items)))

def string_to_sign(method, service, auth_key, action, params, raw_user=False):
    return method.upper() + "\n" + enc(service + "/" + auth_key + "/" + action) + "\n" + pairs(params, raw_user)

def pw_key(password):
    return hashlib.md5(password.encode()).hexdigest().upper()

cases = []
svc = "https://127.0.0.1:8443/apsdb/rest"
owner = {"authKey": "K7XW2QFJ", "secret": "s3cr3t~*"}
user = {"login": "jane.doe@example.com", "password": "pa ss~word"}

def default_case(name, method, params, who, raw_user=False, upper=False):
    key = owner["secret"] if who == "owner" else pw_key(user["password"])
    sts = string_to_sign(method, svc, owner["authKey"], "GenerateToken", params, raw_user)
    sig = hmac.new(key.encode(), sts.encode(), hashlib.sha1).hexdigest()
    cases.append({"name": name, "mode": "default", "method": method, "serviceURL": svc, "authKey": owner["authKey"],
                  "action": "GenerateToken", "params": params, "who": who, "rawUser": raw_user,
                  "stringToSign": sts, "signature": sig.upper() if upper else sig})

default_case("owner GET (PHP)", "GET", [["apsws.time", "1700000000"], ["apsdb.runAs", "dev-01"], ["apsws.responseType", "json"]], "owner")
default_case("owner with encodings and duplicates", "POST",
             [["apsws.time", "1700000000"], ["apsdb.runAs", "a b~c*d"], ["x", "1"], ["x", "1"], ["x", "0"], ["empty", ""]], "owner")
default_case("user PHP encodes apsws.user", "GET", [["apsws.time", "1700000000"], ["apsws.user", user["login"]]], "user")
default_case("user Java: POST, ms time, raw apsws.user, upper hex", "POST",
             [["apsws.time", "1700000000123"], ["apsws.user", user["login"]]], "user", raw_user=True, upper=True)

def simple_case(name, who, who_value, upper=False, t="1700000000"):
    key = owner["secret"] if who == "owner" else pw_key(user["password"])
    sig = hashlib.md5((t + who_value + "GenerateToken" + key).encode()).hexdigest()
    cases.append({"name": name, "mode": "simple", "method": "GET", "authKey": owner["authKey"], "action": "GenerateToken",
                  "time": t, "who": who, "whoValue": who_value, "signature": sig.upper() if upper else sig})

simple_case("owner simple", "owner", owner["authKey"])
simple_case("user simple (Java hashes the login, ms time)", "user", user["login"], upper=True, t="1700000000123")
simple_case("user simple (PHP hashes the authKey)", "user", owner["authKey"])

print(json.dumps({"owner": owner, "user": user, "passwordKey": pw_key(user["password"]), "cases": cases}, indent=2))
