#!/usr/bin/python3
"""An SMTP receiver for Lodestone's email tests (aiosmtpd, Debian python3-aiosmtpd).

Listens on 127.0.0.1, prints the port on stdout's first line once it accepts connections, and
saves each message as NNNN.eml in --save-dir with the envelope in NNNN.json. With --cert/--key it
offers STARTTLS and refuses MAIL before it; with --user/--password it offers AUTH PLAIN and LOGIN
(after TLS only) and requires it. --data-reply "451 ..." answers every DATA with that reply
instead of saving; --delay N waits N seconds before answering DATA. Stops on SIGTERM or SIGINT.
"""
import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
import sys
import threading
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    def __init__(self, save_dir, data_reply, delay):
        self.save_dir = save_dir
        self.data_reply = data_reply
        self.delay = delay
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        if self.data_reply:
            return self.data_reply
        with self.lock:
            self.count += 1
            n = self.count
        base = os.path.join(self.save_dir, "%04d" % n)
        # Written under a temporary name and renamed, so a reader never sees half a message.
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".json", "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "tls": session.ssl is not None}, f)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 OK"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--save-dir", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--data-reply")
    ap.add_argument("--delay", type=float, default=0)
    ap.add_argument("--verbose", action="store_true", help="log sessions and their errors to stderr")
    args = ap.parse_args()
    if not args.verbose:
        # A client refusing the certificate is a test's point, not news; nor is aiosmtpd's own
        # deprecation of Session.login_data, which it uses itself.
        logging.getLogger("mail.log").setLevel(logging.CRITICAL)
        warnings.filterwarnings("ignore", category=DeprecationWarning)

    tls_context = None
    if args.cert:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(args.cert, args.key)

    kwargs = {}
    if args.user is not None:
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login == args.user.encode()
                  and auth_data.password == (args.password or "").encode())
            # handled=False: aiosmtpd answers a refusal with 535 itself.
            return AuthResult(success=ok, handled=ok)
        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=True)
    else:
        kwargs.update(auth_require_tls=False)

    handler = Handler(args.save_dir, args.data_reply, args.delay)
    controller = Controller(handler, hostname="127.0.0.1", port=args.port, tls_context=tls_context,
                            require_starttls=tls_context is not None, ready_timeout=20, **kwargs)
    if args.port == 0:
        # aiosmtpd 1.4 has no ephemeral port: take one from the kernel, then bind it.
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        controller.port = s.getsockname()[1]
        s.close()
    controller.start()
    print(controller.port, flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
