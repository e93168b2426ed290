"""A local stand-in for Twilio's Programmable Messaging API, for Herald's tests.

It answers like the Messages resource
(https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource):
`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP basic auth
(account SID, auth token), a form body with `To`, `From` or
`MessagingServiceSid`, `Body`, `StatusCallback`; 201 with the Message
resource (`sid` "SM..."), errors as Twilio's JSON
`{"code", "message", "more_info", "status"}`
(https://www.twilio.com/docs/usage/twilios-response).

After a 201 it POSTs status callbacks to `StatusCallback`, form-encoded as
https://www.twilio.com/docs/messaging/guides/track-outbound-message-status
describes (`MessageSid`, `MessageStatus`, `ErrorCode`, ...), signed with
`X-Twilio-Signature` computed by Twilio's own helper library
(`twilio.request_validator.RequestValidator.compute_signature`), so Herald's
check is tested against Twilio's code.

Usage: twilio_peer.py CONFIG.json. The config:
  {"account_sid": "AC...", "auth_token": "...",
   "numbers": {"<To as sent, e.g. +1555... or whatsapp:+1555...>":
                 {"answer": "invalid" | "not_whatsapp" | "busy_once" | "broken",
                  "callbacks": [{"MessageStatus": "sent"},
                                {"MessageStatus": "undelivered", "ErrorCode": "30003"}],
                  "forge": true,
                  "callback_first_ms": 300}},
   "default": {"callbacks": [...], "forge": false}}
`callback_first_ms` posts the callbacks at once and answers the create
request that many milliseconds later (a callback that beats the answer).
`forge` first posts a tampered copy of the last callback (its status
flipped after signing), which Herald must refuse with 401.

Stdout, one JSON object a line: {"event": "listening", "port": N} first,
then {"event": "message", ...} per create request, {"event": "callback",
"kind": "real"|"forged", "status": <Herald's HTTP status>, ...} per callback,
and {"event": "problem", "what": ...} for anything that is not what Twilio
would accept. The peer exits when stdin closes.
"""

import base64
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from twilio.request_validator import RequestValidator

LOCK = threading.Lock()


def report(event):
    with LOCK:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


def twilio_error(code, message, status):
    return {
        "code": code,
        "message": message,
        "more_info": "https://www.twilio.com/docs/errors/%d" % code,
        "status": status,
    }


class State:
    def __init__(self, config):
        self.config = config
        self.validator = RequestValidator(config["auth_token"])
        self.seen = {}


def post_callback(url, params, signature):
    data = urllib.parse.urlencode(params).encode()
    req = urllib.request.Request(url, data=data, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    req.add_header("X-Twilio-Signature", signature)
    req.add_header("User-Agent", "TwilioProxy/1.1")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except Exception as e:  # noqa: BLE001 - reported, not raised
        return 0, str(e)


def send_callbacks(state, url, base, callbacks, forge, delay=0.05):
    time.sleep(delay)
    signed = []
    for cb in callbacks:
        params = dict(base)
        params.update(cb)
        params["SmsStatus"] = params.get("MessageStatus", "")
        signed.append((params, state.validator.compute_signature(url, params)))
    if forge and signed:
        params, signature = signed[-1]
        tampered = dict(params)
        flip = "failed" if params["MessageStatus"] in ("delivered", "read") else "delivered"
        tampered["MessageStatus"] = flip
        tampered["SmsStatus"] = flip
        status, body = post_callback(url, tampered, signature)
        report({"event": "callback", "kind": "forged", "params": tampered,
                "status": status, "body": body})
    for params, signature in signed:
        status, body = post_callback(url, params, signature)
        report({"event": "callback", "kind": "real", "params": params,
                "status": status, "body": body})


def make_handler(state):
    cfg = state.config
    sid = cfg["account_sid"]
    path = "/2010-04-01/Accounts/%s/Messages.json" % sid
    expected_auth = "Basic " + base64.b64encode(
        ("%s:%s" % (sid, cfg["auth_token"])).encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def answer(self, status, body, headers=None):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            report({"event": "problem", "what": "GET %s" % self.path})
            self.answer(405, twilio_error(20004, "Method not allowed", 405))

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path != path:
                report({"event": "problem", "what": "POST to %s, not %s" % (self.path, path)})
                return self.answer(404, twilio_error(20404, "The requested resource was not found", 404))
            if self.headers.get("Authorization") != expected_auth:
                report({"event": "problem", "what": "bad basic auth"})
                return self.answer(401, twilio_error(20003, "Authenticate", 401))
            ctype = self.headers.get("Content-Type", "")
            if not ctype.startswith("application/x-www-form-urlencoded"):
                report({"event": "problem", "what": "content type %s" % ctype})
            form = urllib.parse.parse_qs(raw.decode(), keep_blank_values=True)
            dup = [k for k, v in form.items() if len(v) != 1]
            if dup:
                report({"event": "problem", "what": "repeated fields %s" % dup})
            form = {k: v[0] for k, v in form.items()}
            report({"event": "message", "form": form})
            to = form.get("To", "")
            if not to:
                report({"event": "problem", "what": "no To"})
                return self.answer(400, twilio_error(21604, "A 'To' phone number is required.", 400))
            if ("From" in form) == ("MessagingServiceSid" in form):
                report({"event": "problem", "what": "From xor MessagingServiceSid"})
                return self.answer(400, twilio_error(21603, "A 'From' phone number is required.", 400))
            if to.startswith("whatsapp:") and not form.get("From", "whatsapp:").startswith("whatsapp:"):
                report({"event": "problem", "what": "a WhatsApp To with an SMS From"})
            if not form.get("Body"):
                report({"event": "problem", "what": "no Body"})
                return self.answer(400, twilio_error(21602, "Message body is required.", 400))
            # Twilio: "ValidityPeriod ... between 1 and 36000" seconds.
            vp = form.get("ValidityPeriod")
            if vp is not None and not (vp.isdigit() and 1 <= int(vp) <= 36000):
                report({"event": "problem", "what": "ValidityPeriod %r" % vp})
                return self.answer(400, twilio_error(21623, "Invalid ValidityPeriod", 400))
            unknown = set(form) - {"To", "From", "MessagingServiceSid", "Body", "StatusCallback",
                                   "ValidityPeriod"}
            if unknown:
                report({"event": "problem", "what": "unexpected fields %s" % sorted(unknown)})

            rule = dict(cfg.get("default", {}))
            rule.update(cfg.get("numbers", {}).get(to, {}))
            kind = rule.get("answer")
            with LOCK:
                state.seen[to] = state.seen.get(to, 0) + 1
                seen = state.seen[to]
            if kind == "invalid":
                return self.answer(400, twilio_error(
                    21211, "The 'To' number %s is not a valid phone number." % to, 400))
            if kind == "not_whatsapp":
                return self.answer(400, twilio_error(
                    63003, "Channel could not find To address", 400))
            if kind == "busy_once" and seen == 1:
                return self.answer(429, twilio_error(20429, "Too Many Requests", 429),
                                   {"Retry-After": "1"})
            if kind == "broken":
                return self.answer(500, twilio_error(20500, "Internal Server Error", 500))

            msid = "SM" + uuid.uuid4().hex
            callbacks = rule.get("callbacks", [])
            url = form.get("StatusCallback")
            early = rule.get("callback_first_ms")
            if early is not None and callbacks and url:
                # The callbacks leave first and the 201 follows after
                # `callback_first_ms`: a status callback that overtakes the
                # create request's answer, as a fast network may deliver it.
                base = {"AccountSid": sid, "ApiVersion": "2010-04-01", "MessageSid": msid,
                        "SmsSid": msid, "To": to, "From": form.get("From", "")}
                threading.Thread(target=send_callbacks, daemon=True, args=(
                    state, url, base, callbacks, False, 0.0)).start()
                time.sleep(early / 1000.0)
                callbacks = []
            self.answer(201, {
                "sid": msid, "account_sid": sid, "to": to,
                "from": form.get("From"), "messaging_service_sid": form.get("MessagingServiceSid"),
                "body": form["Body"], "status": "queued", "num_segments": "1",
                "direction": "outbound-api", "api_version": "2010-04-01",
                "error_code": None, "error_message": None,
                "uri": "/2010-04-01/Accounts/%s/Messages/%s.json" % (sid, msid),
            })
            if callbacks and url:
                base = {"AccountSid": sid, "ApiVersion": "2010-04-01", "MessageSid": msid,
                        "SmsSid": msid, "To": to, "From": form.get("From", "")}
                if form.get("MessagingServiceSid"):
                    base["MessagingServiceSid"] = form["MessagingServiceSid"]
                threading.Thread(target=send_callbacks, daemon=True, args=(
                    state, url, base, callbacks, rule.get("forge", False))).start()

    return Handler


def main():
    with open(sys.argv[1]) as f:
        config = json.load(f)
    state = State(config)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    report({"event": "listening", "port": server.server_address[1]})
    # Stop when the test closes stdin (or dies).
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    main()
