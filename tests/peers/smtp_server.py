"""An SMTP server for the tests (aiosmtpd): plain, STARTTLS or implicit TLS, with AUTH when a user is given.

Each message received is written to the output folder as <n>.json: the envelope (mail_from, rcpt_tos), the raw
message, and whether it came over TLS. A line "ready <port>" on stdout says it listens.

    smtp_server.py --port 2525 --out DIR [--mode plain|starttls|tls] [--cert C --key K]
                   [--user U --password P] [--reject-rcpt ADDRESS] [--busy N]

--reject-rcpt answers 550 for that recipient; --busy answers 421 to the first N messages (a transient failure).
"""

import argparse
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, out, reject, busy):
        self.out = out
        self.reject = reject
        self.busy = busy
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject and address.lower() == self.reject.lower():
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.busy > 0:
            self.busy -= 1
            return "421 4.3.2 Service not available, try again later"
        self.count += 1
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "data": envelope.content.decode("utf8", errors="replace"),
            # Over TLS: the connection's transport has an SSL object (after STARTTLS, or from the first byte).
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "auth": session.authenticated,
        }
        path = os.path.join(self.out, "%04d.json" % self.count)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.replace(path + ".tmp", path)
        return "250 2.0.0 Ok: queued as TEST%04d" % self.count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--mode", default="plain", choices=["plain", "starttls", "tls"])
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--reject-rcpt")
    parser.add_argument("--busy", type=int, default=0)
    args = parser.parse_args()

    context = None
    if args.mode != "plain":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = auth_data.login.decode() == args.user and auth_data.password.decode() == args.password
        # handled=False: aiosmtpd answers (235, or 535 on a failure) itself.
        return AuthResult(success=ok, handled=False)

    kwargs = {}
    if args.user:
        kwargs["authenticator"] = authenticator
        # Credentials only over TLS, except for the plain loopback mode.
        # Credentials only over TLS: after STARTTLS, or on the implicit-TLS port (which aiosmtpd does not count).
        kwargs["auth_require_tls"] = args.mode == "starttls"
    else:
        kwargs["auth_required"] = False
    if args.mode == "starttls":
        kwargs["tls_context"] = context
        kwargs["require_starttls"] = True
    elif args.mode == "tls":
        kwargs["ssl_context"] = context

    handler = Handler(args.out, args.reject_rcpt, args.busy)
    controller = Controller(handler, hostname="127.0.0.1", port=args.port, server_hostname="localhost", **kwargs)
    controller.start()
    print("ready %d" % args.port, flush=True)
    try:
        loop = asyncio.new_event_loop()
        loop.run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
