"""Local stand-ins for the chat robots herald alerts, each answering as its
published protocol says (../shared/reference/PROTOCOLS.md sections 4-5):
the signature and its time window, the keyword, the body schema, the size
limits and the rate limit with its own error. They record what they
accepted and what they refused, with the time it arrived.

Each robot listens on 127.0.0.1 on a port of its own:
    r = DingTalk(token="t0k", secret="SECxyz", keywords=["k8s"])
    r.url  -> http://127.0.0.1:PORT/robot/send?access_token=t0k
"""
import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Robot:
    """A threaded HTTP server; subclasses answer(path, query, body)."""

    def __init__(self):
        self.accepted = []      # (arrival time, decoded body)
        self.refused = []       # (arrival time, code, message)
        self.arrivals = []      # arrival time of every request
        self.fail_next = []     # scripted answers for the next requests: (status, body, headers)
        self.bad_signatures = []  # why a signature was refused: waits fail at once then
        self.hang = False       # never answer (until close)
        self.delay_next = []    # seconds the next requests wait before the robot sees them
                                # (a queue in front of it); they count when they get through
        self.released = threading.Event()
        self.lock = threading.Condition()
        robot = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                with robot.lock:
                    delay = robot.delay_next.pop(0) if robot.delay_next else 0
                if delay:
                    robot.released.wait(delay)   # the queue; cut short by close()
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                u = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(u.query, keep_blank_values=True)
                now = time.time()
                with robot.lock:
                    robot.arrivals.append(now)
                    robot.lock.notify_all()
                    scripted = robot.fail_next.pop(0) if robot.fail_next else None
                if robot.hang:
                    robot.released.wait()
                    return
                if scripted:
                    status, body, headers = scripted
                else:
                    status, body, headers = robot.answer(u.path, query, raw, dict(self.headers), now)
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                with robot.lock:
                    robot.lock.notify_all()

            do_PUT = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def accept(self, now, body):
        with self.lock:
            self.accepted.append((now, body))

    def refuse(self, now, code, message):
        with self.lock:
            self.refused.append((now, code, message))

    def wait(self, cond, timeout=60, what="condition"):
        deadline = time.monotonic() + timeout
        with self.lock:
            while not cond():
                if self.bad_signatures:
                    # A signing mistake never heals: fail now, not at the timeout.
                    raise AssertionError(f"the robot refused a signature ({self.bad_signatures[0]}) "
                                         f"while waiting for {what}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}: accepted {len(self.accepted)}, "
                                         f"refused {self.refused[-3:]}")
                self.lock.wait(min(left, 0.2))

    def messages(self):
        with self.lock:
            return [b for _, b in self.accepted]


class Window:
    """At most `count` requests in any `period` seconds (sliding)."""

    def __init__(self, count, period):
        self.count, self.period, self.times = count, period, []
        self.lock = threading.Lock()   # requests are answered on threads of their own

    def admit(self, now):
        with self.lock:
            self.times = [t for t in self.times if t > now - self.period]
            self.times.append(now)
            return len(self.times) <= self.count


def _json(raw):
    try:
        v = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return v if isinstance(v, dict) else None


def _strings(v):
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


class DingTalk(Robot):
    """Custom robot: POST /robot/send?access_token=..[&timestamp=..&sign=..]."""

    def __init__(self, token="dingtoken", secret=None, keywords=None, per_minute=20):
        self.token, self.secret, self.keywords = token, secret, keywords or []
        self.window = Window(per_minute, 60)
        self.throttled_until = 0
        super().__init__()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/robot/send?access_token={self.token}"

    def error(self, now, code, msg):
        self.refuse(now, code, msg)
        return 200, {"errcode": code, "errmsg": msg}, {}

    def answer(self, path, query, raw, headers, now):
        if path != "/robot/send" or query.get("access_token") != [self.token]:
            return self.error(now, 300001, "token is not exist")
        if not headers.get("Content-Type", "").startswith("application/json"):
            return self.error(now, 43004, "无效的HTTP HEADER Content-Type")
        if self.secret:
            ts, sign = query.get("timestamp", [""])[0], query.get("sign", [""])[0]
            if not ts.isdigit() or abs(int(ts) - now * 1000) > 3600 * 1000:
                self.bad_signatures.append(f"timestamp {ts!r}")
                return self.error(now, 310000, "invalid timestamp")
            want = base64.b64encode(hmac.new(self.secret.encode(), f"{ts}\n{self.secret}".encode(),
                                             hashlib.sha256).digest()).decode()
            # parse_qs has URL-decoded sign once, as DingTalk does
            if not hmac.compare_digest(sign, want):
                self.bad_signatures.append("sign not match")
                return self.error(now, 310000, "sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]")
        body = _json(raw)
        if body is None:
            return self.error(now, 40035, "缺少参数 json")
        kind = body.get("msgtype")
        if kind == "text":
            text = (body.get("text") or {}).get("content")
            content = [text]
        elif kind == "markdown":
            md = body.get("markdown") or {}
            text = md.get("text")
            content = [md.get("title"), text]
            if not isinstance(md.get("title"), str):
                return self.error(now, 40035, "缺少参数 markdown.title")
        else:
            return self.error(now, 40035, "缺少参数 msgtype")
        if not isinstance(text, str) or not text:
            return self.error(now, 40035, "缺少参数 content")
        at = body.get("at", {})
        if not isinstance(at, dict) or not _strings(at.get("atMobiles", [])) or \
                not _strings(at.get("atUserIds", [])) or not isinstance(at.get("isAtAll", False), bool):
            return self.error(now, 40035, "at is malformed")
        if self.keywords and not any(k in (c or "") for k in self.keywords for c in content):
            return self.error(now, 310000, "keywords not in content, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]")
        # 20 a minute; above that the robot is throttled for 10 minutes.
        if now < self.throttled_until or not self.window.admit(now):
            if now >= self.throttled_until:
                self.throttled_until = now + 600
            return self.error(now, 130101, "send too fast, exceed 20 times per minute")
        self.accept(now, body)
        return 200, {"errcode": 0, "errmsg": "ok"}, {}


class WeCom(Robot):
    """Group robot: POST /cgi-bin/webhook/send?key=..."""

    def __init__(self, key="wecom-key", per_minute=20):
        self.key = key
        self.window = Window(per_minute, 60)
        super().__init__()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/cgi-bin/webhook/send?key={self.key}"

    def error(self, now, code, msg):
        self.refuse(now, code, msg)
        return 200, {"errcode": code, "errmsg": msg}, {}

    def answer(self, path, query, raw, headers, now):
        if path != "/cgi-bin/webhook/send" or query.get("key") != [self.key]:
            return self.error(now, 93000, "invalid webhook url")
        body = _json(raw)
        if body is None:
            return self.error(now, 40001, "invalid json")
        kind = body.get("msgtype")
        part = body.get(kind) if kind in ("text", "markdown") else None
        if not isinstance(part, dict) or not isinstance(part.get("content"), str):
            return self.error(now, 40008, "invalid message type")
        limit = 2048 if kind == "text" else 4096
        if len(part["content"].encode()) > limit:
            return self.error(now, 40058, f"{kind}.content exceed max length {limit}")
        if kind == "text" and not (_strings(part.get("mentioned_list", [])) and
                                   _strings(part.get("mentioned_mobile_list", []))):
            return self.error(now, 40008, "mentioned_list is malformed")
        if not self.window.admit(now):
            return self.error(now, 45009, "api freq out of limit")
        self.accept(now, body)
        return 200, {"errcode": 0, "errmsg": "ok"}, {}


class Feishu(Robot):
    """Custom bot: POST /open-apis/bot/v2/hook/<token>, signed in the body."""

    def __init__(self, token="feishu-token", secret=None, keywords=None):
        self.token, self.secret, self.keywords = token, secret, keywords or []
        self.minute, self.second = Window(100, 60), Window(5, 1)
        super().__init__()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/open-apis/bot/v2/hook/{self.token}"

    def error(self, now, code, msg):
        self.refuse(now, code, msg)
        return 200, {"code": code, "data": {}, "msg": msg}, {}

    @staticmethod
    def texts(v):
        """Every text and title value (where keywords count), not hrefs."""
        if isinstance(v, dict):
            for k, x in v.items():
                if k in ("text", "title", "content") and isinstance(x, str):
                    yield x
                else:
                    yield from Feishu.texts(x)
        elif isinstance(v, list):
            for x in v:
                yield from Feishu.texts(x)

    def answer(self, path, query, raw, headers, now):
        if path != f"/open-apis/bot/v2/hook/{self.token}":
            return self.error(now, 19001, "param invalid: incoming webhook access token invalid")
        if len(raw) > 20 * 1024:
            return self.error(now, 9499, "Bad Request")
        body = _json(raw)
        if body is None:
            return self.error(now, 9499, "Bad Request")
        if self.secret:
            ts, sign = body.get("timestamp"), body.get("sign")
            if not isinstance(ts, str) or not ts.isdigit() or abs(int(ts) - now) > 3600:
                self.bad_signatures.append(f"timestamp {ts!r}")
                return self.error(now, 19021, "sign match fail or timestamp is not within one hour from current time")
            want = base64.b64encode(hmac.new(f"{ts}\n{self.secret}".encode(), b"", hashlib.sha256).digest()).decode()
            if not isinstance(sign, str) or not hmac.compare_digest(sign, want):
                self.bad_signatures.append("sign match fail")
                return self.error(now, 19021, "sign match fail or timestamp is not within one hour from current time")
        kind = body.get("msg_type")
        if kind == "text":
            ok = isinstance((body.get("content") or {}).get("text"), str)
        elif kind == "post":
            post = (body.get("content") or {}).get("post") or {}
            ok = bool(post) and all(isinstance(p, dict) and isinstance(p.get("content"), list) for p in post.values())
        elif kind == "interactive":
            ok = isinstance(body.get("card"), dict)
        else:
            ok = False
        if not ok:
            return self.error(now, 9499, "Bad Request")
        shown = body.get("card") if kind == "interactive" else body.get("content")
        if self.keywords and not any(k in t for k in self.keywords for t in self.texts(shown)):
            return self.error(now, 19024, "Key Words Not Found")
        if not self.second.admit(now) or not self.minute.admit(now):
            return self.error(now, 11232, "frequency limited psm[lark.oapi.app_platform_runtime]appID[1]")
        self.accept(now, body)
        return 200, {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}, {}


class Slack(Robot):
    """Incoming webhook: POST /services/T.../B.../...; 200 "ok"."""

    def __init__(self, path="/services/T000/B000/XXXX"):
        self.path = path
        self.window = Window(1, 1)
        super().__init__()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}{self.path}"

    def answer(self, path, query, raw, headers, now):
        if path != self.path:
            self.refuse(now, 404, "no_service")
            return 404, "no_service", {}
        body = _json(raw)
        if body is None or not (isinstance(body.get("text"), str) or isinstance(body.get("blocks"), list)):
            self.refuse(now, 400, "invalid_payload")
            return 400, "invalid_payload", {}
        if not self.window.admit(now):
            self.refuse(now, 429, "rate_limited")
            return 429, "rate_limited", {"Retry-After": "1"}
        self.accept(now, body)
        return 200, "ok", {}


class Webhook(Robot):
    """Any endpoint: accepts every JSON or text body with 200."""

    def __init__(self):
        super().__init__()
        self.headers_seen = []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self, path, query, raw, headers, now):
        with self.lock:
            self.headers_seen.append(headers)
        body = _json(raw)
        self.accept(now, body if body is not None else raw.decode())
        return 200, "", {}
