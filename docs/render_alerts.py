"""Renders herald's default alert and digest for DingTalk, WeCom and Feishu
as a phone shows them, into docs/images/*.png (run docs/render-alerts.sh).

herald itself makes the messages: `herald --from` reads a few realistic
events and sends them to a local receiver that answers as each robot does
on success, so the bodies are exactly what a robot gets. The markdown is
turned into HTML by a CommonMark renderer (markdown-it-py; the default
alert only uses bold and line breaks, which every robot renders the same
way), styled like each app's chat bubble or card, and photographed by
headless Chromium at a phone's width.
"""
import datetime
import html
import http.server
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import threading

from markdown_it import MarkdownIt

ROOT = pathlib.Path(__file__).resolve().parents[1]
HERALD = os.environ.get("HERALD_BIN", str(ROOT / "build" / "herald"))
CHROMIUM = os.environ.get("CHROMIUM", "chromium")
OUT = ROOT / "docs" / "images"
WIDTH = 400          # CSS pixels: a phone held upright
T0 = 1764064800      # 2025-11-25 10:00:00 UTC: fixed, so the images only change with the templates


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def event(uid, kind, name, ns, reason, message, count=1, first=0, last=0, host=None, type_="Warning"):
    obj = {"kind": kind, "name": name, "apiVersion": "v1"}
    if ns:
        obj["namespace"] = ns
    return {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{name}.18b2f0c1d2e3{uid:04x}", "namespace": ns or "default",
                     "uid": f"6b2e9c1d-7f3a-4b5c-8d9e-0a1b2c3d{uid:04x}", "resourceVersion": str(1000 + uid)},
        "involvedObject": obj, "reason": reason, "message": message, "type": type_, "count": count,
        "source": {"component": "kubelet", **({"host": host} if host else {})},
        "firstTimestamp": rfc3339(T0 + first), "lastTimestamp": rfc3339(T0 + last),
    }


# The one alert each robot shows: a crash-looping pod, seen 7 times.
ALERT = [event(1, "Pod", "payments-api-5c8d7b9f4-qk2lp", "payments", "BackOff",
               "Back-off restarting failed container api in pod payments-api-5c8d7b9f4-qk2lp_payments"
               "(1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9)", count=7, first=0, last=540, host="cn-hangzhou.10.0.3.17")]
# A bad quarter of an hour: what a digest covers.
STORM = [
    event(2, "Pod", "payments-api-5c8d7b9f4-qk2lp", "payments", "BackOff",
          "Back-off restarting failed container api in pod payments-api-5c8d7b9f4-qk2lp", count=12, last=600,
          host="cn-hangzhou.10.0.3.17"),
    event(3, "Pod", "checkout-6f9b8c7d5-m4n5p", "shop", "Unhealthy",
          'Readiness probe failed: Get "http://10.42.3.17:8080/healthz": context deadline exceeded',
          count=30, last=610, host="cn-hangzhou.10.0.3.18"),
    event(4, "Pod", "checkout-6f9b8c7d5-x7k2q", "shop", "Unhealthy",
          'Readiness probe failed: Get "http://10.42.3.22:8080/healthz": context deadline exceeded',
          count=21, last=615, host="cn-hangzhou.10.0.3.19"),
    event(5, "Pod", "report-28811520-8xk2z", "analytics", "FailedScheduling",
          "0/6 nodes are available: 2 Insufficient memory, 4 node(s) didn't match Pod's node affinity/selector.",
          count=4, last=620),
    event(6, "Node", "cn-hangzhou.10.0.3.17", None, "OOMKilling",
          "Memory cgroup out of memory: Killed process 48211 (java) total-vm:8811232kB, anon-rss:4107424kB",
          last=630, host="cn-hangzhou.10.0.3.17"),
    event(7, "Pod", "db-0", "data", "FailedMount",
          'MountVolume.SetUp failed for volume "pvc-8d2f1c3b" : rpc error: code = DeadlineExceeded',
          count=3, last=640, host="cn-hangzhou.10.0.3.18"),
]

SINKS = '''
sink "dingtalk" { type = "dingtalk", webhook = "http://{addr}/dingtalk?access_token=demo", keyword = "k8s",
                  limit = "{limit}" }
sink "wecom"    { type = "wecom", webhook = "http://{addr}/wecom?key=demo", limit = "{limit}" }
sink "feishu"   { type = "feishu", webhook = "http://{addr}/open-apis/bot/v2/hook/demo", limit = "{limit}" }
'''


class Receiver(http.server.BaseHTTPRequestHandler):
    """Answers as each robot does on success and keeps what it got."""
    got = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Receiver.got.append((self.path.split("?")[0], body))
        answer = b'{"errcode":0,"errmsg":"ok","code":0,"msg":"success","StatusCode":0}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


def messages(events, limit):
    """What herald sends each robot for these events: {robot: [body, ...]}."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.got = []
    addr = "127.0.0.1:%d" % server.server_address[1]
    with tempfile.TemporaryDirectory() as d:
        conf = pathlib.Path(d)
        (conf / "rules").mkdir()
        (conf / "state").mkdir()
        (conf / "sinks.lua").write_text(SINKS.replace("{addr}", addr).replace("{limit}", limit))
        (conf / "rules" / "10.lua").write_text('route { to = { "dingtalk", "wecom", "feishu" } }\n')
        subprocess.run([HERALD, "--config", str(conf), "--state-dir", str(conf / "state"), "--cluster-name", "prod",
                        "--from", "-"], input="".join(json.dumps(e) + "\n" for e in events), text=True,
                       env=dict(os.environ, TZ="Asia/Shanghai"), check=True, timeout=120,
                       stderr=subprocess.DEVNULL)
    server.shutdown()
    out = {"dingtalk": [], "wecom": [], "feishu": []}
    for path, body in Receiver.got:
        out["feishu" if path.startswith("/open-apis") else path.strip("/")].append(body)
    return out


MD = MarkdownIt("commonmark")

STYLE = """
* { box-sizing: border-box; }
body { margin: 0; width: %dpx; font: 15px/1.5 -apple-system, "Noto Sans CJK SC", "Noto Sans", "DejaVu Sans", sans-serif;
       color: #1f2329; background: %s; }
.bar { height: 44px; display: flex; align-items: center; justify-content: center; font-weight: 600;
       background: %s; color: %s; font-size: 16px; }
.chat { padding: 14px 10px 18px; }
.row { display: flex; align-items: flex-start; gap: 8px; }
.avatar { flex: none; width: 36px; height: 36px; border-radius: %s; background: %s; color: #fff;
          display: flex; align-items: center; justify-content: center; font-weight: 700; font-size: 14px; }
.who { font-size: 12px; color: #8f959e; margin: 0 0 4px 2px; }
.bubble { background: #fff; border-radius: 8px; padding: 10px 12px; width: 316px; overflow-wrap: anywhere; }
.bubble p { margin: 0; }
.bubble p + p { margin-top: 8px; }
.card { background: #fff; border-radius: 8px; width: 316px; overflow: hidden; border: 1px solid #dee0e3; }
.card .head { padding: 10px 12px; color: #fff; font-weight: 600; background: #d83931; overflow-wrap: anywhere; }
.card .body { padding: 10px 12px; overflow-wrap: anywhere; }
.card .body p { margin: 0; }
.card .body p + p { margin-top: 8px; }
"""

APPS = {
    # robot: (page background, bar background, bar text, avatar shape, avatar colour, chat title, sender)
    "dingtalk": ("#f2f3f5", "#f2f3f5", "#1f2329", "50%", "#3296fa", "SRE on-call (DingTalk)", "herald robot"),
    "wecom": ("#ededed", "#ededed", "#1f2329", "4px", "#2a6ae9", "SRE on-call (WeCom)", "herald robot"),
    "feishu": ("#f5f6f7", "#ffffff", "#1f2329", "50%", "#3370ff", "SRE on-call (Feishu)", "herald bot"),
}


def body_html(robot, body):
    if robot == "dingtalk":
        return '<div class="bubble">%s</div>' % MD.render(body["markdown"]["text"])
    if robot == "wecom":
        return '<div class="bubble">%s</div>' % MD.render(body["markdown"]["content"])
    card = body["card"]
    # lark_md breaks lines at "\n" (a blank line between paragraphs); in
    # CommonMark a line break is "  \n"
    text = re.sub(r"(?<!\n)\n(?!\n)", "  \n", card["elements"][0]["text"]["content"])
    colour = {"red": "#d83931", "blue": "#3370ff"}.get(card["header"].get("template"), "#3370ff")
    return ('<div class="card"><div class="head" style="background:%s">%s</div><div class="body">%s</div></div>'
            % (colour, html.escape(card["header"]["title"]["content"]), MD.render(text)))


def page(robot, body):
    bg, bar, bar_fg, shape, avatar, chat, who = APPS[robot]
    return ('<!doctype html><meta charset="utf-8"><style>%s</style><div class="bar">%s</div>'
            '<div class="chat"><div class="row"><div class="avatar">H</div><div><div class="who">%s</div>%s'
            '</div></div></div>') % (STYLE % (WIDTH, bg, bar, bar_fg, shape, avatar), html.escape(chat),
                                    html.escape(who), body_html(robot, body))


def chromium(*args):
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--force-device-scale-factor=2", *args], capture_output=True, text=True, timeout=120)


def shoot(html_text, png):
    with tempfile.TemporaryDirectory() as d:
        f = pathlib.Path(d) / "page.html"
        # First the page's height (the script writes it into the DOM)...
        f.write_text(html_text + '<script>document.title = "H" + document.documentElement.scrollHeight</script>')
        dom = chromium("--dump-dom", f.as_uri()).stdout
        height = int(dom.split("<title>H", 1)[1].split("<", 1)[0])
        # ...then the picture, exactly that tall.
        f.write_text(html_text)
        r = chromium("--screenshot=" + str(png), "--window-size=%d,%d" % (WIDTH, height), f.as_uri())
        if not png.exists():
            sys.exit("chromium made no screenshot: " + r.stderr[-2000:])


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    shots = {"alert": messages(ALERT, "none"), "digest": messages(STORM, "1/1h")}
    for kind, per_robot in shots.items():
        for robot, bodies in per_robot.items():
            if len(bodies) != 1:
                sys.exit("%s %s: expected one message, herald sent %d" % (robot, kind, len(bodies)))
            png = OUT / ("%s-%s.png" % (robot, kind))
            shoot(page(robot, bodies[0]), png)
            print(png.relative_to(ROOT))


if __name__ == "__main__":
    main()
