"""A scripted stand-in for the apiserver's list and watch endpoints, for
faults a real server cannot produce on demand. Each list or watch request
takes the next script of its kind; a script is a list of steps:
  ("status", code, body)  answer with this status and JSON body, then end
  ("chunk", bytes)        send one chunk of a chunked 200 answer
  ("end",)                end the chunked answer cleanly
  ("reset",)              drop the connection mid-answer
  ("hold",)               keep the connection open, silent, until stop()
  ("wait", threading.Event) keep it open, silent, until the test sets the event
A script may also be a function of the request's query (a dict of lists)
that returns the steps, to answer by what was asked.
Requests are recorded (path with query, headers, monotonic time)."""
import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def event(name, rv, ns="fake", message="m", reason="BackOff"):
    return {"kind": "Event", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "resourceVersion": str(rv)},
            "involvedObject": {"kind": "Pod", "namespace": ns, "name": name.split(".")[0]},
            "reason": reason, "message": message, "type": "Warning", "count": 1,
            "firstTimestamp": "2026-11-25T10:00:00Z", "lastTimestamp": "2026-11-25T10:00:00Z"}


def line(type_, obj):
    return (json.dumps({"type": type_, "object": obj}) + "\n").encode()


def event_list(items, rv, cont=""):
    return {"kind": "EventList", "apiVersion": "v1", "metadata": {"resourceVersion": str(rv), "continue": cont},
            "items": items}


class FakeAPI:
    def __init__(self):
        self.lists, self.watches, self.requests = [], [], []
        self.cond = threading.Condition()
        self.stopping = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                with fake.cond:
                    fake.requests.append({"path": self.path, "query": q, "auth": self.headers.get("Authorization"),
                                          "t": time.monotonic()})
                    queue = fake.watches if q.get("watch") == ["1"] else fake.lists
                    script = queue.pop(0) if queue else [("hold",)]
                    fake.cond.notify_all()
                if callable(script):
                    script = script(q)
                chunked = False
                for step in script:
                    if step[0] == "status":
                        body = json.dumps(step[2]).encode()
                        self.send_response(step[1])
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                        return
                    if not chunked:
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        chunked = True
                    if step[0] == "chunk":
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(step[1]), step[1]))
                        self.wfile.flush()
                    elif step[0] == "end":
                        self.wfile.write(b"0\r\n\r\n")
                        return
                    elif step[0] == "reset":
                        # RST mid-answer (linger 0); shutdown first, as the
                        # handler's file objects keep close() from closing.
                        self.wfile.flush()
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                   b"\x01\x00\x00\x00\x00\x00\x00\x00")
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    elif step[0] == "wait":
                        step[1].wait(60)
                    elif step[0] == "hold":
                        fake.stopping.wait(60)
                        return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_requests(self, n, timeout=30):
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.requests) >= n, timeout):
                raise AssertionError(f"fake apiserver: {len(self.requests)} requests, wanted {n}: {self.requests}")
            return list(self.requests)

    def kubeconfig(self, path, token=None, token_file=None):
        user = {"tokenFile": str(token_file)} if token_file else {"token": token or "fake-token"}
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u"}}]}))
        return path

    def stop(self):
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
