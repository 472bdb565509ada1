"""The DingTalk sink against a robot that answers as DingTalk does: signed
requests, the keyword, the schema, and 20 messages a minute."""
import re
import time

from conftest import event

SECRET = "SEC0123456789abcdef"
SINKS = '''
sink "oncall" {
  type    = "dingtalk",
  webhook = env "DT_URL",
  sign    = secret "dingtalk-sign",
  keyword = "k8s",
  wait    = "1s",
  %s
}
'''
RULES = 'route { to = "oncall", when = { type = "Warning" } }\n'


def start(herald, robot_url, extra="", rules=RULES, secret=SECRET, cluster="prod-a"):
    return herald(SINKS % extra, rules, secrets={"dingtalk-sign": secret}, env={"DT_URL": robot_url},
                  args=("--cluster-name", cluster))


def events_in(text):
    """The events a default message covers: a digest says "Digest: N events";
    an alert says "· N events ·" when it covers more than one."""
    m = re.search(r"Digest: (\d+) events?", text) or re.search(r" · (\d+) events · ", text)
    return int(m.group(1)) if m else 1


def dialect_safe(text):
    """Only what DingTalk, WeCom, Feishu and CommonMark all render: no
    headings, lists, quotes, tables or code (the lines are joined with
    markdown line breaks, "  \\n", and paragraphs, "\\n\\n")."""
    for line in re.split(r"  \n|\n\n", text):
        assert not re.match(r"\s*([#>|`]|[-+*] |\d+\. )", line), line


def test_a_warning_becomes_one_signed_markdown_message(herald, robot):
    r = robot("DingTalk", secret=SECRET, keywords=["k8s"])
    h = start(herald, r.url, 'mention = { mobiles = { "13800000000" } },')
    t = int(time.time())
    ev = event("web-0", ns="shop", count=3, t=t, host="worker-3",
               message="Back-off restarting failed container app_1 in pod web-0")
    h.send(ev, event("ok-pod", type_="Normal", reason="Pulled"))
    r.wait(lambda: len(r.accepted) == 1, what="the alert")
    body = r.messages()[0]
    assert body["msgtype"] == "markdown"
    md = body["markdown"]
    text = md["text"]
    assert "k8s" in md["title"] and "k8s" in text          # the keyword, always
    lines = text.split("\n\n")[0].split("  \n")       # before the mention and the keyword
    # [cluster] Reason Kind/name in namespace: the involved object, not the
    # Event's own name; then the message, markdown-escaped; then the facts.
    assert lines[0] == "**[prod-a] BackOff Pod/web-0 in shop**", text
    assert ev["metadata"]["name"] not in text
    assert lines[1] == r"Back-off restarting failed container app\_1 in pod web-0"
    # count, first and last seen in the TZ of the pod (Asia/Shanghai here), the node
    last = time.gmtime(t + 8 * 3600)
    first = time.gmtime(t - 120 + 8 * 3600)
    seen = time.strftime("%Y-%m-%d %H:%M:%S", first) + " – " + time.strftime(
        "%H:%M:%S" if first[:3] == last[:3] else "%Y-%m-%d %H:%M:%S", last) + " CST"
    assert lines[2] == f"×3 · {seen} · node worker-3", text
    dialect_safe(text)
    assert body["at"]["atMobiles"] == ["13800000000"] and "@13800000000" in text
    assert r.refused == []
    # The same event again (its count went up) within `interval`, and a
    # new one elsewhere: only the new one is alerted.
    again = dict(ev, count=4, metadata=dict(ev["metadata"], resourceVersion="2"))
    h.send(again, event("db-0", reason="Unhealthy"))
    r.wait(lambda: len(r.accepted) == 2, what="the second group's alert")
    assert h.finish() == 0
    assert len(r.accepted) == 2
    assert "Pod/db-0" in r.messages()[1]["markdown"]["text"]
    assert "repeats of alerts already sent are not sent again" in h.log()


def test_a_storm_stays_under_the_limit_and_digests_account_for_every_event(herald, robot):
    r = robot("DingTalk", secret=SECRET, keywords=["k8s"])
    h = herald(SINKS.replace('wait    = "1s",', 'wait = "5s", interval = "20s",') % "", RULES,
               secrets={"dingtalk-sign": SECRET}, env={"DT_URL": r.url})
    # 1,000 Warning events across 50 objects in 10 seconds.
    t0 = time.monotonic()
    for i in range(100):
        h.send(*[event(f"pod-{(i * 10 + j) % 50}", ns=f"ns-{(i * 10 + j) % 50 % 3}") for j in range(10)])
        pause = t0 + (i + 1) * 0.1 - time.monotonic()
        if pause > 0:
            time.sleep(pause)    # pacing the input at 100 events/s, not waiting for a result

    def counted():
        return sum(events_in(m["markdown"]["text"]) for m in r.messages())
    r.wait(lambda: counted() >= 1000, timeout=200, what="messages covering all 1,000 events")
    assert h.finish() == 0
    assert counted() == 1000
    assert r.refused == [], r.refused                      # not one 130101
    times = sorted(t for t, _ in r.accepted)
    for i in range(len(times) - 20):
        assert times[i + 20] - times[i] >= 60, "more than 20 messages in a minute"
    digests = [m["markdown"]["text"] for m in r.messages() if "Digest: " in m["markdown"]["text"]]
    assert digests, "a storm this size needs a digest"
    for d in digests:
        lines = d.split("  \n")
        assert re.fullmatch(r"\*\*\[default\] Digest: \d+ events in \d+ groups\*\*", lines[0]), d
        by_part = d.split("**By reason**")[1].split("**Largest groups**")[0]
        by = [int(n) for n in re.findall(r"^BackOff in ns-\d: (\d+)\s*$", by_part, re.M)]
        assert by, d
        if "more" not in by_part:
            assert sum(by) == events_in(d), d               # the counts add up
        top = d.split("**Largest groups**  \n")[1].split("  \n")
        assert re.match(r"\*\*BackOff Pod/pod-\d+ in ns-\d\*\* ×1( · \d+ events)?: Back-off", top[0]), d
        dialect_safe(d)
        assert len(d.encode()) < 4000
    assert len(r.accepted) <= 2 * 20


def test_a_request_the_robot_counts_after_herald_gave_up_keeps_its_token(herald, robot):
    # The first request waits in front of the robot past herald's 10 s
    # timeout and is counted when it gets through, after herald's retry of
    # it. Its token must not come back a minute after herald gave up, or
    # the next alert is the third in a minute: 130101, then 10 minutes of
    # refusals.
    r = robot("DingTalk", secret=SECRET, keywords=["k8s"], per_minute=2)
    r.delay_next = [11]
    h = start(herald, r.url, 'limit = "2/1m",')
    h.send(event("web-0"))
    r.wait(lambda: len(r.accepted) == 2, timeout=40, what="the late request and herald's retry of it")
    h.wait_log("will be sent again: Operation timed out")
    h.send(event("db-0"))
    r.wait(lambda: len(r.accepted) == 3 or r.refused != [], timeout=150, what="the next alert")
    assert r.refused == [], r.refused
    assert "Pod/db-0" in r.messages()[2]["markdown"]["text"]
    times = sorted(t for t, _ in r.accepted)
    assert times[2] - times[0] >= 60
    assert h.finish() == 0


def test_a_wrong_signing_secret_is_reported_with_its_cause(herald, robot):
    r = robot("DingTalk", secret=SECRET)
    h = start(herald, r.url, secret="SECwrong-secret-value")
    h.send(event("web-0"))
    h.wait_log("310000")
    # refused for good: those events are undelivered, so run --from exits 4
    assert h.finish() == 4
    log = h.log()
    assert "DingTalk refused the message: errcode 310000, sign not match" in log
    assert "check `keyword`, the `sign` secret and this machine's clock" in log
    assert "SECwrong-secret-value" not in log and r.token not in log
    assert r.accepted == [] and len(r.refused) == 1        # refused for good: not retried


def test_a_template_in_a_rules_file_changes_the_text(herald, robot):
    r = robot("DingTalk", secret=SECRET, keywords=["k8s"])
    rules = RULES + '''
template "oncall" {
  render = function(g)
    return "custom", ("%s on %s/%s in %s (%d events)"):format(g.reason, g.kind, g.name, g.cluster, g.count)
  end,
}
'''
    h = start(herald, r.url, rules=rules, cluster="prod-b")
    h.send(event("web-0"))
    r.wait(lambda: len(r.accepted) == 1, what="the alert")
    md = r.messages()[0]["markdown"]
    assert md["text"].startswith("BackOff on Pod/web-0 in prod-b (1 events)")
    assert "k8s" in md["text"]
    assert h.finish() == 0


def test_a_failing_template_falls_back_to_the_default_and_is_counted(herald, robot):
    r = robot("DingTalk", secret=SECRET)
    rules = RULES + 'template "oncall" { render = function(g) return nil .. "x" end }\n'
    h = start(herald, r.url, rules=rules)
    h.send(event("web-0"))
    r.wait(lambda: len(r.accepted) == 1, what="the alert")
    assert r.messages()[0]["markdown"]["text"].startswith("**[prod-a] BackOff Pod/web-0 in default**")
    h.wait_log("rule error")
    assert "rules/10.lua:2" in h.log()
    assert h.finish() == 0


def test_server_errors_and_garbage_are_retried_until_delivered(herald, robot):
    r = robot("DingTalk", secret=SECRET)
    r.fail_next = [(502, "bad gateway", {}), (200, "<html>proxy</html>", {})]
    h = start(herald, r.url)
    h.send(event("web-0"))
    r.wait(lambda: len(r.accepted) == 1, timeout=30, what="the alert after two failures")
    assert len(r.arrivals) == 3
    h.wait_log("DingTalk answered HTTP 502")
    h.wait_log("not its JSON")
    assert h.finish() == 0


def test_a_wrong_token_is_a_clear_error(herald, robot):
    r = robot("DingTalk", secret=SECRET)
    h = start(herald, r.url.replace("dingtoken", "nosuchtoken"))
    h.send(event("web-0"))
    h.wait_log("300001")
    assert "token is not exist - the access_token does not exist (check `webhook`)" in h.log()
    assert "nosuchtoken" not in h.log()
    # refused for good: those events are undelivered, so run --from exits 4
    assert h.finish() == 4


def test_a_reloaded_template_takes_effect_and_keeps_the_groups(herald, robot):
    r = robot("DingTalk", secret=SECRET, keywords=["k8s"])
    h = start(herald, r.url)
    first = event("web-0")
    h.send(first)
    r.wait(lambda: len(r.accepted) == 1, what="the first alert")
    (h.config / "rules" / "10.lua").write_text(
        RULES + 'template "oncall" { render = function(g) return "t", "reloaded: " .. g.name end }\n')
    h.proc.send_signal(1)   # SIGHUP; the file watcher would notice within seconds too
    h.wait_log("configuration reloaded")
    # The group of web-0 survived the reload: its repeat is still a repeat.
    h.send(dict(first, count=2, metadata=dict(first["metadata"], resourceVersion="2")), event("db-0"))
    r.wait(lambda: len(r.accepted) == 2, what="the alert after the reload")
    assert r.messages()[1]["markdown"]["text"].startswith("reloaded: db-0")
    assert h.finish() == 0
    assert len(r.accepted) == 2


def test_two_clusters_one_group_each_alert_names_its_cluster(herald, robot):
    # The README's setup: one herald per cluster, one DingTalk group. The
    # robot's 20 a minute is shared, so each herald takes half.
    r = robot("DingTalk", secret=SECRET, keywords=["k8s"])
    managed = start(herald, r.url, 'limit = "10/1m",', cluster="managed")
    serverless = start(herald, r.url, 'limit = "10/1m",', cluster="serverless")
    managed.send(event("api-0", ns="shop"))
    serverless.send(event("job-7", ns="batch", reason="FailedScheduling"))
    r.wait(lambda: len(r.accepted) == 2, what="one alert from each cluster")
    titles = sorted(m["markdown"]["title"] for m in r.messages())
    assert titles == ["k8s [managed] Warning BackOff Pod/api-0", "k8s [serverless] Warning FailedScheduling Pod/job-7"]
    assert managed.finish() == 0 and serverless.finish() == 0


def test_node_events_name_no_namespace_and_the_node_is_shown(herald, robot):
    r = robot("DingTalk", secret=SECRET, keywords=["k8s"])
    h = start(herald, r.url)
    h.send(event("node-b2", kind="Node", ns="default", reason="NodeNotReady", host="node-b2",
                 message="Node node-b2 status is now: NodeNotReady"),
           event("api-0", ns="shop", reason="Unhealthy", message="Readiness probe failed"))
    r.wait(lambda: len(r.accepted) == 2, what="two alerts")
    assert h.finish() == 0
    texts = sorted(m["markdown"]["text"].split("\n\n")[0] for m in r.messages())   # without the keyword
    node = [t for t in texts if "Node/" in t][0].split("  \n")
    assert node[0] == "**[prod-a] NodeNotReady Node/node-b2**"    # not "in default"
    assert node[2].endswith(" · node node-b2")
    pod = [t for t in texts if "Pod/" in t][0].split("  \n")
    assert pod[0] == "**[prod-a] Unhealthy Pod/api-0 in shop**"
    assert "node" not in pod[2]                                  # no source.host, no node
    for t in texts:
        dialect_safe(t)
