"""The e-mail tests' relay: aiosmtpd (from PyPI), a real SMTP server, on loopback.

    python smtpd.py PORT MAILDIR [--tls CERT KEY] [--auth USER:PASSWORD]

With --tls it offers STARTTLS (and takes AUTH only after it); with --auth it asks every
session to authenticate before MAIL. Each message it accepts is written to MAILDIR as one
JSON file: the envelope, whether the session was under TLS and authenticated, and the
message as a mail client reads it (headers decoded, the text part decoded). Recipients
answer by their local part, as a relay would:

    bounce…  550 5.1.1 no such user
    policy…  550 5.7.1 refused by policy
    busy…    451 4.3.0 on the first try of each message id, then accepted

Prints "ready" once it listens.
"""

import json
import os
import ssl
import sys
import uuid
from email import message_from_bytes
from email.policy import default as default_policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Relay:
    def __init__(self, maildir):
        self.maildir = maildir
        self.deferred = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if local.startswith("bounce"):
            return "550 5.1.1 <%s>: no such user" % address
        if local.startswith("policy"):
            return "550 5.7.1 refused by policy"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.original_content or envelope.content, policy=default_policy)
        busy = [r for r in envelope.rcpt_tos if r.split("@", 1)[0].startswith("busy")]
        first_try = (message["Message-ID"], tuple(busy))
        if busy and first_try not in self.deferred:
            self.deferred.add(first_try)
            return "451 4.3.0 try again later"
        text = message.get_body(preferencelist=("plain",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "authenticated": bool(session.authenticated),
            "headers": {name: str(value) for name, value in message.items()},
            "content_type": message.get_content_type(),
            "text": text.get_content() if text is not None else None,
        }
        name = os.path.join(self.maildir, uuid.uuid4().hex)
        with open(name + ".tmp", "w", encoding="utf-8") as out:
            json.dump(record, out, ensure_ascii=False)
        os.rename(name + ".tmp", name + ".json")
        return "250 2.0.0 accepted"


def main():
    port, maildir = int(sys.argv[1]), sys.argv[2]
    options = sys.argv[3:]
    kwargs = {}
    if "--tls" in options:
        at = options.index("--tls")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(options[at + 1], options[at + 2])
        kwargs["tls_context"] = context
    if "--auth" in options:
        user, password = options[options.index("--auth") + 1].split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and (
                auth_data.login.decode(), auth_data.password.decode()) == (user, password)
            return AuthResult(success=ok)

        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls="--tls" in options)
    controller = Controller(Relay(maildir), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()  # until the test closes it (or dies)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
