#!/usr/bin/env python3
"""A real SMTP server for Herald's tests of its `smtp` provider (aiosmtpd).

Usage: smtp_peer.py CONFIG.json

It listens on 127.0.0.1 on a free port and prints, one JSON object a line
on stdout (flushed at once):

- {"event": "listening", "port": N} once it accepts connections;
- {"event": "rcpt", "address", "reply"} for every RCPT TO it answered
  (reply null for one it never answers, see "hang");
- {"event": "message", "mail_from", "rcpt_tos", "reply", "raw", "from",
  "to", "reply_to", "subject", "message_id", "content_type", "charset",
  "body", "tls", "client_port", "auth_user"} for every message whose data
  it received
  (the headers and body decoded as a mail client would show them).

The config (every key optional):

- "refuse": [address, ...]: RCPT TO answered "550 5.1.1 no such user"
  (RFC 5321 §4.2.2 550 "mailbox unavailable", §4.3.2 a reply to RCPT;
  RFC 3463 §3.2 X.1.1 "bad destination mailbox address");
- "busy": {address: N}: the first N tries of the address answered
  "451 4.3.0 try later" (RFC 5321 §4.2.2 451 "local error in processing",
  a transient negative reply, §4.2.1; RFC 3463 §3.4 X.3.0), then accepted;
- "busy_at": "rcpt" (default) or "data": where "busy" answers. At "data"
  the message has come in whole before the 451 (RFC 5321 §4.3.2 lists 451
  as a reply to the end of DATA), so every try's headers are captured;
- "refuse_sender": true: MAIL FROM answered "553 5.1.8 sender address
  rejected" (RFC 3463 §3.2 X.1.8 "bad sender's system address");
- "hang": [address, ...]: RCPT TO of these never answered (a stuck server);
- "starttls": {"cert": path, "key": path}: STARTTLS offered with this
  certificate (RFC 3207);
- "implicit_tls": {"cert": path, "key": path}: TLS from the first byte
  (RFC 8314 §3.3, "submissions" on 465);
- "auth": {"username": u, "password": p}: AUTH PLAIN/LOGIN (RFC 4954)
  offered once the connection is protected (or at once with
  "auth_plaintext": true), and required before MAIL FROM; other credentials
  are answered "535 5.7.8 Authentication credentials invalid" (RFC 4954 §6).
"""

import asyncio
import email
import email.policy
import json
import logging
import signal
import ssl
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def tls_context(paths):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(paths["cert"], paths["key"])
    return ctx


class Handler:
    def __init__(self, config):
        self.refuse = set(config.get("refuse", []))
        self.busy = dict(config.get("busy", {}))
        self.busy_at = config.get("busy_at", "rcpt")
        self.refuse_sender = bool(config.get("refuse_sender", False))
        self.hang = set(config.get("hang", []))

    def _busy(self, address):
        left = self.busy.get(address, 0)
        if left > 0:
            self.busy[address] = left - 1
            return True
        return False

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.refuse_sender:
            return "553 5.1.8 sender address rejected"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.hang:
            emit({"event": "rcpt", "address": address, "reply": None})
            await asyncio.sleep(3600)
        if address in self.refuse:
            reply = "550 5.1.1 no such user"
        elif self.busy_at == "rcpt" and self._busy(address):
            reply = "451 4.3.0 try later"
        else:
            envelope.rcpt_tos.append(address)
            reply = "250 OK"
        emit({"event": "rcpt", "address": address, "reply": reply})
        return reply

    async def handle_DATA(self, server, session, envelope):
        reply = "250 OK"
        if self.busy_at == "data" and any(self._busy(r) for r in envelope.rcpt_tos):
            reply = "451 4.3.0 try later"
        raw = envelope.original_content or b""
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        try:
            body = msg.get_content()
        except (KeyError, LookupError):
            body = None

        def header(name):
            value = msg.get(name)
            return None if value is None else str(value)

        auth = session.auth_data
        emit({
            "event": "message",
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "reply": reply,
            "raw": raw.decode("utf-8", errors="replace"),
            "from": header("From"),
            "to": header("To"),
            "reply_to": header("Reply-To"),
            "subject": header("Subject"),
            "message_id": header("Message-ID"),
            "content_type": msg.get_content_type(),
            "charset": msg.get_content_charset(),
            "body": body,
            "tls": session.ssl is not None,
            "client_port": session.peer[1] if session.peer else None,
            "auth_user": auth.login.decode() if isinstance(auth, LoginPassword) else None,
        })
        return reply


def authenticator(expected):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == expected["username"]
            and auth_data.password.decode() == expected["password"]
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return check


async def main(path):
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    handler = Handler(config)
    kwargs = {"hostname": "peer.test", "enable_SMTPUTF8": True}
    if "starttls" in config:
        kwargs["tls_context"] = tls_context(config["starttls"])
    if "auth" in config:
        kwargs["authenticator"] = authenticator(config["auth"])
        kwargs["auth_required"] = True
        kwargs["auth_require_tls"] = not config.get("auth_plaintext", False)
    implicit = tls_context(config["implicit_tls"]) if "implicit_tls" in config else None
    if implicit is not None and "auth" in config:
        # The socket is TLS from the start: aiosmtpd's own "is it protected"
        # check looks for STARTTLS only.
        kwargs["auth_require_tls"] = False

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, **kwargs), host="127.0.0.1", port=0, ssl=implicit
    )
    port = server.sockets[0].getsockname()[1]
    emit({"event": "listening", "port": port})
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Stops also when the test that started it goes away (stdin closes).
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.read(1) else None)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    # Keep stderr for real failures: aiosmtpd logs every session at INFO and
    # warns about AUTH without TLS, which the tests ask for on purpose.
    logging.basicConfig(level=logging.ERROR)
    warnings.simplefilter("ignore")
    if len(sys.argv) != 2:
        sys.exit("usage: smtp_peer.py CONFIG.json")
    asyncio.run(main(sys.argv[1]))
