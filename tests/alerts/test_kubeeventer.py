"""kube-eventer's flags, translated by herald.kubeeventer, against local
receivers: the seed's DingTalk line for two clusters (kube-eventer's
layout, both labels, the keyword, signed; Normal events not alerted), the
WeChat (WeCom app) sink with its access token fetched once and again only
when it expires, and the webhook with kube-eventer's filters and body.

The translated files point at the vendors' hosts; the tests point them at
the local receivers, which speak plain HTTP (kube-eventer always posts to
https:// for DingTalk)."""
import json
import time

import robots
from conftest import event
from ke_translate import translate

SECRET = "SEC0123456789abcdef"
SRC = "--source=kubernetes:https://kubernetes.default"


def local(files, robot_port):
    sinks = files["sinks.lua"].replace("https://oapi.dingtalk.com", f"http://127.0.0.1:{robot_port}")
    return sinks, files["rules/50-kube-eventer.lua"]


def shanghai(t):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t + 8 * 3600))


def test_the_seed_dingtalk_line_for_two_clusters(herald, robot):
    r = robot("DingTalk", token="XXX", secret=SECRET, keywords=["event"])
    t = int(time.time())
    sent = {}
    for cluster in ("cls-tke", "cls-eks"):
        files, secrets = translate([
            SRC,
            f"--sink=dingtalk:https://oapi.dingtalk.com/robot/send?access_token=XXX&label={cluster}"
            f"&label=event&level=Warning&msg_type=markdown&sign={SECRET}",
        ])
        assert secrets == ["dingtalk-access-token", "dingtalk-sign"]
        assert "XXX" not in files["sinks.lua"] and SECRET not in files["sinks.lua"]
        sinks, rules = local(files, r.port)
        h = herald(sinks, rules, secrets={"dingtalk-access-token": "XXX", "dingtalk-sign": SECRET},
                   args=("--cluster-name", cluster))
        warn = event("web-0", ns="shop", t=t, message=f"Back-off restarting failed container in {cluster}")
        h.send(warn, event("ok-pod", type_="Normal", reason="Pulled", t=t))
        sent[cluster] = (h, warn)
    r.wait(lambda: len(r.accepted) == 2, what="one alert per cluster")
    texts = {}
    for body in r.messages():
        assert body["msgtype"] == "markdown"
        text = body["markdown"]["text"]
        cluster = "cls-tke" if text.startswith("label[0]: **cls-tke**") else "cls-eks"
        texts[cluster] = text
    for cluster, (h, warn) in sent.items():
        text = texts[cluster]
        assert text.startswith(f"label[0]: **{cluster}**\n\nlabel[1]: **event**\n\n"), text
        for line in ("Level: **Warning** ", "Kind: **Pod** ", "Namespace: shop ",
                     f"Name: {warn['metadata']['name']} ", "Reason: **BackOff** ",
                     f"Timestamp: **{shanghai(t)} +0800 CST** ",
                     f"Message: **Back-off restarting failed container in {cluster}**"):
            assert line in text, (line, text)
        assert h.finish() == 0
    assert r.refused == []                       # signed, with the keyword
    assert not any("Pulled" in json.dumps(b) for b in r.messages())
    assert len(r.accepted) == 2


def test_dingtalk_text_layout_and_level_normal(herald, robot):
    r = robot("DingTalk", token="XXX")
    files, _ = translate([SRC, "--sink=dingtalk:https://oapi.dingtalk.com/robot/send?access_token=XXX"
                               "&label=first&label=second&level=Normal&namespaces=shop&kinds=Pod"])
    sinks, rules = local(files, r.port)
    h = herald(sinks, rules, secrets={"dingtalk-access-token": "XXX"}, args=("--cluster-name", "c1"))
    t = int(time.time())
    h.send(event("web-0", ns="shop", type_="Normal", reason="Pulled", t=t),
           event("web-1", ns="other", t=t),                      # another namespace
           event("node-1", ns="shop", kind="Node", t=t))          # another kind
    r.wait(lambda: len(r.accepted) == 1, what="the Normal event's alert")
    assert h.finish() == 0
    body = r.messages()[0]
    assert body["msgtype"] == "text"
    text = body["text"]["content"]
    # kube-eventer prepends each label in turn: the last comes first
    assert text.startswith("second\nfirst\nLevel:Normal \nKind:Pod \nNamespace:shop \nName:web-0."), text
    assert f"Timestamp:{shanghai(t)} \n" in text
    assert len(r.accepted) == 1


class WeComApp(robots.Robot):
    """WeCom's application API: GET /cgi-bin/gettoken?corpid=..&corpsecret=..
    hands out a token valid for 7200 s; POST /cgi-bin/message/send?access_token=..
    sends a text message to touser ("a|b")."""

    def __init__(self, corp_id="ww1", corp_secret="CS-secret", agent_id=1000002):
        self.corp_id, self.corp_secret, self.agent_id = corp_id, corp_secret, agent_id
        self.tokens_issued = 0
        self.token = None
        super().__init__()
        handler = self.server.RequestHandlerClass
        handler.do_GET = handler.do_POST

    def answer(self, path, query, raw, headers, now):
        if path == "/cgi-bin/gettoken":
            if query.get("corpid") != [self.corp_id] or query.get("corpsecret") != [self.corp_secret]:
                self.refuse(now, 40001, "invalid credential")
                return 200, {"errcode": 40001, "errmsg": "invalid credential"}, {}
            with self.lock:
                self.tokens_issued += 1
                self.token = f"token-{self.tokens_issued}"
            return 200, {"errcode": 0, "errmsg": "ok", "access_token": self.token, "expires_in": 7200}, {}
        if path != "/cgi-bin/message/send":
            return 404, "", {}
        if query.get("access_token") != [self.token]:
            self.refuse(now, 40014, "invalid access_token")
            return 200, {"errcode": 40014, "errmsg": "invalid access_token"}, {}
        body = json.loads(raw)
        if body.get("agentid") != self.agent_id or body.get("msgtype") != "text" or \
                len(body["text"]["content"].encode()) > 2048:
            self.refuse(now, 40008, "invalid message")
            return 200, {"errcode": 40008, "errmsg": "invalid message type"}, {}
        self.accept(now, body)
        return 200, {"errcode": 0, "errmsg": "ok"}, {}


def test_wechat_app_token_fetched_once_and_again_when_revoked(herald, robot):
    app = WeComApp()
    try:
        files, secrets = translate([SRC, "--sink=wechat:?corp_id=ww1&corp_secret=CS-secret&agent_id=1000002"
                                         "&to_user=zhangsan,lisi&label=cls-tke"])
        assert secrets == ["wechat-corp-secret"] and "CS-secret" not in files["sinks.lua"]
        sinks = files["sinks.lua"].replace('type    = "wechat",',
                                           f'type    = "wechat", api = "http://127.0.0.1:{app.port}",')
        h = herald(sinks, files["rules/50-kube-eventer.lua"], secrets={"wechat-corp-secret": "CS-secret"},
                   args=("--cluster-name", "cls-tke"))
        h.send(*[event(f"web-{i}", ns="shop") for i in range(3)])
        app.wait(lambda: len(app.accepted) == 3, what="three messages")
        assert app.tokens_issued == 1                     # not one per message
        with app.lock:
            app.token = "revoked"                         # as if it expired early
        h.send(event("db-0", ns="shop"))
        app.wait(lambda: len(app.accepted) == 4, what="the message after the token was revoked")
        assert app.tokens_issued == 2
        assert h.finish() == 0
        for body in app.messages():
            assert body["touser"] == "zhangsan|lisi"
            assert body["text"]["content"].startswith("cls-tke\nLevel:Warning \nKind:Pod \nNamespace:shop \n")
        assert "CS-secret" not in h.log() and "token-1" not in h.log()
    finally:
        app.close()


def test_wechat_token_fetch_is_not_a_retry_and_takes_no_rate_token(herald):
    """The token fetch answers "again": the message goes at once, with no
    backoff and no retry counted, and the fetch does not use the sink's
    one message a minute (else the message would wait a minute)."""
    app = WeComApp()
    try:
        sinks = f"""
sink "wx" {{ type = "wechat", api = "http://127.0.0.1:{app.port}", corp_id = "ww1",
  corp_secret = secret "wechat-corp-secret", agent_id = 1000002, wait = "0s", limit = "1/1m" }}
"""
        h = herald(sinks, 'route { to = "wx" }\n', secrets={"wechat-corp-secret": "CS-secret"})
        start = time.monotonic()
        h.send(event("web-0", ns="shop"))
        app.wait(lambda: len(app.accepted) == 1, timeout=20, what="the message right after the token")
        assert time.monotonic() - start < 15
        assert h.finish() == 0
        assert app.tokens_issued == 1
        assert "sent again" not in h.log(), h.log()
    finally:
        app.close()


class GetHook(robots.Webhook):
    """robots.Webhook that also records GET requests with their method."""

    def __init__(self):
        super().__init__()
        handler = self.server.RequestHandlerClass
        handler.do_GET = handler.do_POST


def test_webhook_filters_and_default_body(herald, robot):
    hook = GetHook()
    try:
        files, _ = translate([SRC, f"--sink=webhook:{hook.url}?level=Warning&kinds=Pod&namespaces=shop&reason=^Back|Unhealthy"])
        h = herald(files["sinks.lua"], files["rules/50-kube-eventer.lua"], args=("--cluster-name", "c1"))
        t = int(time.time())
        h.send(event("web-0", ns="shop", t=t, message='said "no"'),
               event("web-1", ns="shop", reason="Unhealthy", t=t),
               event("web-2", ns="shop", reason="FailedMount", t=t),       # reason not matched
               event("web-3", ns="other", t=t),                            # involved object's namespace
               event("web-4", ns="shop", type_="Normal", t=t),             # level
               event("node-1", ns="shop", kind="Node", t=t))               # kind
        hook.wait(lambda: len(hook.accepted) == 2, what="two webhook calls")
        assert h.finish() == 0
        bodies = sorted(hook.messages(), key=lambda b: b["EventReason"])
        assert [b["EventReason"] for b in bodies] == ["BackOff", "Unhealthy"]
        b = bodies[0]
        assert b["EventType"] == "Warning" and b["EventKind"] == "Pod"
        assert b["EventMessage"] == "said no"                              # quotes removed, as kube-eventer
        assert b["EventTime"] == f"{shanghai(t)} +0800 CST"
        assert len(hook.accepted) == 2
    finally:
        hook.close()
