"""A small webhook receiver, to try the service's webhooks by hand: it verifies each message's signature with the
`standardwebhooks` package (as any receiver should), drops a message it already has (same webhook-id), prints
the rest, and answers 204.

    python examples/webhook_receiver.py --port 9000 --secret whsec_...

--fail N answers 503 to the first N messages (to watch the retries); stop it with Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main() -> None:
    parser = argparse.ArgumentParser(description="Receive the service's webhooks and verify their signatures.")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--secret", required=True, help="the webhook's secret (whsec_...), as POST /webhooks gave it")
    parser.add_argument("--fail", type=int, default=0, help="answer 503 to the first N messages")
    args = parser.parse_args()
    verifier = Webhook(args.secret)
    seen: set[str] = set()
    failures = {"left": args.fail}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            try:
                message = verifier.verify(body, dict(self.headers))
            except WebhookVerificationError as problem:
                print(f"refused: {problem}", flush=True)
                return self._answer(401)
            message_id = self.headers["webhook-id"]
            if failures["left"] > 0:
                failures["left"] -= 1
                print(f"{message_id}: answered 503 on purpose ({failures['left']} more)", flush=True)
                return self._answer(503)
            if message_id in seen:
                print(f"{message_id}: already received, dropped", flush=True)
                return self._answer(204)
            seen.add(message_id)
            event, ticket = message["data"]["event"], message["data"]["ticket"]
            title = ticket["title"] if ticket else "-"
            print(
                f"{message_id} {message['type']} ticket {event.get('ticket_id', '-')} ({title}): "
                f"{json.dumps(event.get('changes', {}), ensure_ascii=False)}",
                flush=True,
            )
            self._answer(204)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    print(f"listening on http://127.0.0.1:{args.port}/ (Ctrl-C stops)", flush=True)
    try:
        ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
