"""WeCom, Feishu/Lark, Slack and a generic webhook: each robot's main path
against a receiver that answers as that robot does."""
import json
import signal

from conftest import event

RULES = 'route { to = "oncall", when = { type = "Warning" } }\n'


def run(herald, sinks, url, rules=RULES, secrets=None):
    return herald(sinks, rules, secrets=secrets or {}, env={"ROBOT_URL": url},
                  args=("--cluster-name", "prod-a"))


def test_wecom_markdown_within_its_size_limit_with_mentions(herald, robot):
    r = robot("WeCom")
    h = run(herald, '''sink "oncall" { type = "wecom", webhook = env "ROBOT_URL", wait = "1s",
                       mention = { users = { "zhangsan" } } }''', r.url)
    h.send(event("web-0", message="x" * 10000))          # far over 4096 bytes
    r.wait(lambda: len(r.accepted) == 1, what="the WeCom message")
    body = r.messages()[0]
    content = body["markdown"]["content"]
    assert len(content.encode()) <= 4096
    assert "(truncated)" in content and content.endswith("<@zhangsan>")
    # the same markdown as DingTalk's: bold and line breaks only
    assert content.startswith("**[prod-a] BackOff Pod/web-0 in default**  \nxxx")
    assert h.finish() == 0 and r.refused == []


def test_wecom_text_mentions_and_the_2048_byte_limit(herald, robot):
    r = robot("WeCom")
    h = run(herald, '''sink "oncall" { type = "wecom", webhook = env "ROBOT_URL", wait = "1s", format = "text",
                       mention = { users = { "lisi" }, mobiles = { "13800000000" }, all = true } }''', r.url)
    h.send(event("web-0", message="长" * 3000))            # multi-byte: cut on a character boundary
    r.wait(lambda: len(r.accepted) == 1, what="the WeCom message")
    text = r.messages()[0]["text"]
    assert len(text["content"].encode()) <= 2048
    text["content"].encode().decode("utf-8")
    assert text["mentioned_list"] == ["lisi", "@all"] and text["mentioned_mobile_list"] == ["13800000000"]
    assert h.finish() == 0 and r.refused == []


def test_wecom_bad_key_is_reported(herald, robot):
    r = robot("WeCom")
    h = run(herald, 'sink "oncall" { type = "wecom", webhook = env "ROBOT_URL", wait = "1s" }',
            r.url.replace("wecom-key", "wrong-key"))
    h.send(event("web-0"))
    h.wait_log("93000")
    assert "errcode 93000, invalid webhook url - the webhook key is not valid" in h.log()
    assert "wrong-key" not in h.log()
    # refused for good: those events are undelivered, so run --from exits 4
    assert h.finish() == 4


FEISHU = '''sink "oncall" { type = "feishu", webhook = env "ROBOT_URL", sign = secret "feishu-sign",
                  keyword = "k8s", wait = "1s", %s }'''


def test_feishu_signed_card_with_keyword(herald, robot):
    r = robot("Feishu", secret="feishu-secret", keywords=["k8s"])
    h = run(herald, FEISHU % 'mention = { all = true }', r.url, secrets={"feishu-sign": "feishu-secret"})
    h.send(event("web-0"), event("web-1"))
    r.wait(lambda: len(r.accepted) == 2, what="two Feishu cards")
    body = r.messages()[0]
    assert body["msg_type"] == "interactive"
    card = body["card"]
    assert card["header"]["template"] == "red"
    # the alert's first line is the card's header, not said again below it
    assert card["header"]["title"]["content"].startswith("[prod-a] BackOff Pod/web-")
    for b in r.messages():   # one mention each, however many messages
        content = b["card"]["elements"][0]["text"]["content"]
        assert content.startswith("Back-off restarting failed container app in pod web-"), content
        assert "Pod/web-" not in content.split("\n")[0] and "\n×1 · " in content
        assert content.count("<at id=all></at>") == 1
    assert h.finish() == 0 and r.refused == []


def test_feishu_post_and_text_formats(herald, robot):
    for fmt in ("post", "text"):
        r = robot("Feishu", secret="feishu-secret", keywords=["k8s"])
        h = run(herald, FEISHU % f'format = "{fmt}"', r.url, secrets={"feishu-sign": "feishu-secret"})
        h.send(event("web-0"))
        r.wait(lambda: len(r.accepted) == 1, what=f"the Feishu {fmt} message")
        body = r.messages()[0]
        assert body["msg_type"] == fmt
        shown = json.dumps(body["content"], ensure_ascii=False)
        assert "Pod/web-0" in shown and "k8s" in shown
        assert h.finish() == 0 and r.refused == []


def test_feishu_wrong_secret_is_reported(herald, robot):
    r = robot("Feishu", secret="feishu-secret")
    h = run(herald, FEISHU % "", r.url, secrets={"feishu-sign": "not-the-secret"})
    h.send(event("web-0"))
    h.wait_log("19021")
    assert "Feishu refused the message: code 19021" in h.log()
    assert "check the `sign` secret" in h.log() and "not-the-secret" not in h.log()
    # refused for good: those events are undelivered, so run --from exits 4
    assert h.finish() == 4 and r.accepted == []


def test_slack_blocks_one_a_second_without_a_429(herald, robot):
    r = robot("Slack")
    h = run(herald, 'sink "oncall" { type = "slack", webhook = env "ROBOT_URL", wait = "1s" }', r.url)
    h.send(*[event(f"web-{i}") for i in range(4)])       # four groups due at once
    r.wait(lambda: len(r.accepted) == 4, timeout=30, what="four Slack messages")
    body = r.messages()[0]
    assert body["blocks"][0]["type"] == "section"
    assert body["blocks"][0]["text"]["text"].startswith("*[prod-a] BackOff Pod/web-")
    times = sorted(t for t, _ in r.accepted)
    assert all(b - a >= 0.95 for a, b in zip(times, times[1:]))
    assert r.refused == []
    assert h.finish() == 0


def test_slack_429_waits_for_retry_after(herald, robot):
    r = robot("Slack")
    r.fail_next = [(429, "rate_limited", {"Retry-After": "2"})]
    h = run(herald, 'sink "oncall" { type = "slack", webhook = env "ROBOT_URL", wait = "1s" }', r.url)
    h.send(event("web-0"))
    r.wait(lambda: len(r.accepted) == 1, timeout=30, what="the Slack message after a 429")
    assert r.arrivals[1] - r.arrivals[0] >= 2
    assert h.finish() == 0


def test_webhook_body_function_and_headers(herald, robot):
    r = robot("Webhook")
    sinks = '''sink "oncall" {
  type = "webhook", url = env "ROBOT_URL", wait = "1s",
  headers = { ["X-Team"] = "platform" },
  body = function(g)
    return { summary = g.reason .. " on " .. g.kind .. "/" .. g.name, cluster = g.cluster, n = g.count }
  end,
}'''
    h = run(herald, sinks, r.url)
    h.send(event("web-0"))
    r.wait(lambda: len(r.accepted) == 1, what="the webhook call")
    assert r.messages()[0] == {"summary": "BackOff on Pod/web-0", "cluster": "prod-a", "n": 1}
    assert r.headers_seen[0]["X-Team"] == "platform"
    assert h.finish() == 0


def test_webhook_default_body(herald, robot):
    r = robot("Webhook")
    h = run(herald, 'sink "oncall" { type = "webhook", url = env "ROBOT_URL", wait = "1s" }', r.url)
    h.send(event("web-0"))
    r.wait(lambda: len(r.accepted) == 1, what="the webhook call")
    body = r.messages()[0]
    assert body["cluster"] == "prod-a" and body["name"] == "web-0" and body["count"] == 1
    assert body["events"][0]["involvedObject"]["name"] == "web-0"
    assert "Pod/web-0" in body["title"]
    assert h.finish() == 0


def test_stopping_with_a_message_in_flight_says_so_and_exits(herald, robot):
    r = robot("Webhook")
    r.hang = True                                         # accepts the request, never answers
    h = run(herald, 'sink "oncall" { type = "webhook", url = env "ROBOT_URL", wait = "1s", timeout = "60s" }', r.url)
    h.send(event("web-0"))
    r.wait(lambda: len(r.arrivals) == 1, what="the request")
    h.proc.send_signal(signal.SIGTERM)
    assert h.proc.wait(timeout=30) == 4                   # after the 10 s drain, with the message still out
    h.reader.join(timeout=10)
    assert "1 event could not be delivered" in h.log()
