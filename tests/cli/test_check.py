"""herald check: every error with file:line, examples run, exit codes."""
import shutil

from conftest import SOURCE, herald


def test_default_config_is_valid():
    r = herald("check", "--config", SOURCE)
    assert r.code == 0, r
    assert r.out.startswith("ok: 1 sink, 1 rule file, 1 rule, 1 example (0 failed), 0 errors"), r


def test_default_config_dir_is_the_working_directory():
    r = herald("check", cwd=SOURCE)
    assert r.code == 0, r


def test_syntax_error_reports_file_and_line(config):
    config.sinks('sink "out" { type = "stdout" }\n')
    config.rule("10-ok.lua", 'route { to = "out" }\n')
    config.rule("20-bad.lua", 'route { to = "out" }\n\nroute { to = "out", when = { type = "Warning" }\n')
    r = herald("check", "--config", config)
    assert r.code == 1, r
    # Lua finds the missing brace at the end of the file and names the line it opened on.
    assert f"{config}/rules/20-bad.lua:4: '}}' expected (to close '{{' at line 3)" in r.err, r
    assert r.out.startswith("invalid:"), r


def test_every_error_is_reported(config):
    config.sinks('sink "out" { type = "stdout" }\n')
    config.rule("10-a.lua", 'route { to = "nowhere" }\n')
    config.rule("20-b.lua", '\nroute { to = "out", when = { resaon = "BackOff" } }\n')
    config.rule("30-c.lua", 'route { to = "out", colour = "red" }\n')
    r = herald("check", "--config", config)
    assert r.code == 1, r
    assert f'{config}/rules/10-a.lua:1: unknown sink "nowhere"' in r.err, r
    assert "sinks.lua defines: out" in r.err
    assert f'{config}/rules/20-b.lua:2: unknown field "resaon"' in r.err, r
    assert f'{config}/rules/30-c.lua:1: route: unknown key "colour"' in r.err, r
    assert "3 errors" in r.out, r


def test_bad_patterns_and_types(config):
    config.sinks('sink "out" { type = "stdout" }\n')
    config.rule("10.lua", """\
        route { to = "out", when = { reason = "^Back.*$" } }
        route { to = "out", when = { count = "10" } }
        route { to = "out", when = 5 }
        route { to = "out", when = { reason = {} } }
        route { to = "out", when = { reason = { x = 1 } } }
        route { to = "out", when = { ["involvedObject..name"] = "x" } }
        route { to = 42 }
        drop {}
        route { to = "out", when = {} }
    """)
    r = herald("check", "--config", config)
    assert r.code == 1, r
    for line, text in [
        (1, "looks like a regular expression"),
        (2, "count: \"10\" is a string"),
        (3, "when must be a table of fields or a function"),
        (4, "an empty list matches nothing"),
        (5, "expected a value or a list of values"),
        (6, "bad path"),
        (7, "must be a sink name or a list of sink names"),
        (8, "drop {} would drop every event"),
        (9, "matches every event"),
    ]:
        assert f"{config}/rules/10.lua:{line}: " in r.err and text in r.err, (line, text, r)
    assert "9 errors" in r.out, r


def test_sink_errors(config):
    config.sinks("""\
        sink "a" { type = "stdout" }
        sink "a" { type = "stdout" }
        sink "b" { type = "nosuchtype" }
        sink "c" { type = "file" }
        sink "d" { type = "file", path = 42 }
        sink "e" { type = "stdout", colour = "red" }
        sink "f" { type = "stdout", batch = { events = 0, wait = "soon" } }
        sink "g" { }
        route { to = "a" }
    """)
    config.rule("10.lua", 'route { to = "a" }\n')
    r = herald("check", "--config", config)
    assert r.code == 1, r
    s = f"{config}/sinks.lua"
    assert f'{s}:2: sink "a" is defined twice (first at {s}:1)' in r.err, r
    assert f'{s}:3: unknown sink type "nosuchtype"' in r.err, r
    assert f'{s}:4: sink "c": option "path" is required' in r.err, r
    assert f'{s}:5: sink "d": path must be a string' in r.err, r
    assert f'{s}:6: sink "e": unknown option "colour"' in r.err, r
    assert f'{s}:7: sink "f": batch.events must be a whole number' in r.err, r
    assert f'{s}:7: sink "f": batch.wait: "soon" is not a duration' in r.err, r
    assert f'{s}:8: sink "g" needs a type' in r.err, r
    assert f"{s}:9: route belongs in rules/*.lua" in r.err, r


def test_unknown_output_is_an_error_with_file_and_line(config):
    # A sink type naming an output this herald does not have used to pass
    # the report line ("0 errors") with the reason on a line of its own.
    config.sinks('sink "out" { type = "stdout" }\n\nsink "k" { type = "pulsar" }\n')
    (config.root / "sinks").mkdir()
    (config.root / "sinks" / "pulsar.lua").write_text('return { output = "pulsar" }\n')
    config.rule("10.lua", 'route { to = "out" }\n')
    r = herald("check", "--config", config)
    assert r.code == 1, r
    assert f'{config}/sinks.lua:3: sink type "pulsar": unknown output "pulsar"' in r.err, r
    assert "stdout, file, null, http, kafka" in r.err, r
    assert r.out.startswith("invalid:") and "1 error," in r.out, r


def test_operator_code_cannot_reach_the_core(config):
    # herald.core holds read_file, getenv and the emit callbacks.
    config.sinks('sink "out" { type = "stdout" }\n')
    config.rule("10.lua", 'route { to = "out" }\nlocal core = require "herald.core"\n')
    config.rule("20.lua", 'local r = require "herald.route"\n')
    r = herald("check", "--config", config)
    assert r.code == 1, r
    assert f"{config}/rules/10.lua:2: module 'herald.core' is herald's own" in r.err, r
    assert f"{config}/rules/20.lua:1: module 'herald.route' is herald's own" in r.err, r


ES_DINGTALK = SOURCE / "tests" / "config" / "es-dingtalk"
NO_SECRETS = "/nonexistent/herald-secrets"


def test_check_needs_no_env_and_no_secret_files():
    # The README's ES + DingTalk setup on a CI runner: no ES_URL, no secret
    # files. Used to fail: url "<env ES_URL>" must start with http://, then
    # "unknown sink" for every rule naming archive.
    r = herald("check", "--config", ES_DINGTALK, "--secrets-dir", NO_SECRETS)
    assert r.code == 0, r
    assert r.out.startswith("ok: 2 sinks, 1 rule file, 3 rules, 1 example (0 failed), 0 errors, 5 warnings"), r
    s = f"{ES_DINGTALK}/sinks.lua"
    assert f"warning: {s}:6: environment variable ES_URL is not set (a placeholder is used for this check)" in r.err, r
    assert f"warning: {s}:14: secret dingtalk-sign is not readable" in r.err, r
    assert "unknown sink" not in r.err and "error" not in r.err, r


def test_masking_covers_secrets_not_every_env_value(config):
    # Issue 12 item 7: every env value used to be masked, so an ES URL
    # logged as "***" and a keyword "alert" made "not alerted" "not ***ed".
    config.sinks("""\
        local url = env "ES_URL"
        local with_password = env "ES_AUTH_URL"
        local keyword = env "DINGTALK_KEYWORD"
        local token = env "API_TOKEN"
        local marked = env("PLAIN_NAME", { secret = true })
        local sign = secret "dingtalk-sign"
        sink "out" { type = "stdout" }
        print("es at " .. url .. " and " .. with_password)
        print("an event that was not alerted (" .. keyword .. ")")
        print("token " .. token .. ", marked " .. marked .. ", sign " .. sign)
    """)
    config.rule("10.lua", 'route { to = "out" }\n')
    secrets = config.root / "secrets"
    secrets.mkdir()
    (secrets / "dingtalk-sign").write_text("SECsign-0123456789\n")
    r = herald("check", "--config", config, "--secrets-dir", secrets, env={
        "ES_URL": "http://es.example.com:9200", "ES_AUTH_URL": "https://elastic:pw-9876@es.example.com:9200",
        "DINGTALK_KEYWORD": "alert", "API_TOKEN": "tok-123456789", "PLAIN_NAME": "plain-value-42"})
    assert r.code == 0, r
    assert "es at http://es.example.com:9200 and https://***@es.example.com:9200" in r.err, r
    assert "an event that was not alerted (alert)" in r.err, r
    assert "token ***, marked ***, sign ***" in r.err, r
    for secret in ("pw-9876", "tok-123456789", "plain-value-42", "SECsign"):
        assert secret not in r.err + r.out


def test_failing_example_fails_check(config):
    config.sinks('sink "archive" { type = "null" }\nsink "oncall" { type = "null" }\n')
    config.rule("10.lua", """\
        route { to = "archive" }
        route { to = "oncall", when = { type = "Warning" } }
        example {
          name = "normal events page on-call",
          event = { type = "Normal", reason = "Scheduled", involvedObject = { kind = "Pod", name = "p" } },
          reaches = { "oncall" },
        }
        example {
          name = "warnings are archived only",
          event = { type = "Warning", reason = "BackOff", involvedObject = { kind = "Pod", name = "p" } },
          routes = { "archive" },
        }
        example {
          event = { type = "Warning", reason = "BackOff", involvedObject = { kind = "Pod", name = "p" } },
          misses = { "oncall" },
        }
    """)
    r = herald("check", "--config", config)
    assert r.code == 1, r
    assert f'{config}/rules/10.lua:3: example "normal events page on-call" failed: does not reach oncall (routes: [archive])' in r.err, r
    assert f'{config}/rules/10.lua:8: example "warnings are archived only" failed: routes are [archive, oncall], expected [archive]' in r.err, r
    assert f"{config}/rules/10.lua:13: example failed: reaches oncall" in r.err, r
    assert "3 examples (3 failed)" in r.out, r


def test_the_shipped_suites_fail_when_a_rule_changes(tmp_path):
    """The examples are real tests: break a rule and check says so."""
    suite = tmp_path / "matching"
    shutil.copytree(SOURCE / "tests" / "lua" / "matching", suite)
    routes = suite / "rules" / "20-routes.lua"
    routes.write_text(routes.read_text().replace('namespace = { "sandbox-*", "dev" }', 'namespace = { "dev" }'))
    r = herald("check", "--config", suite)
    assert r.code == 1, r
    assert 'example "sandbox warnings are archived only (glob in a list)" failed' in r.err, r


def test_runtime_errors_and_budgets_while_loading(config):
    config.sinks('sink "out" { type = "stdout" }\n')
    config.rule("10.lua", 'route { to = "out" }\nlocal x = nil\nx.y = 1\n')
    config.rule("20.lua", 'while true do end\n')
    config.rule("30.lua", 'local s = string.rep("x", 1 << 30)\n')
    r = herald("check", "--config", config, timeout=20)
    assert r.code == 1, r
    assert f"{config}/rules/10.lua:3: attempt to index a nil value" in r.err, r
    assert f"{config}/rules/20.lua:1: instruction budget exceeded" in r.err, r
    assert f"{config}/rules/30.lua" in r.err and "memory budget exceeded" in r.err, r


def test_sandbox_in_operator_files(config):
    config.sinks('sink "out" { type = "stdout" }\n')
    config.rule("10.lua", """\
        assert(io == nil and os.execute == nil and load == nil and dofile == nil)
        assert(debug == nil and setmetatable == nil and collectgarbage == nil)
        local ok = pcall(require, "os")
        assert(not ok)
        route { to = "out" }
    """)
    r = herald("check", "--config", config)
    assert r.code == 0, r


def test_missing_env_and_secret(config, tmp_path):
    config.sinks("""\
        sink "out" { type = "file", path = env "HERALD_TEST_OUT" }
        sink "key" { type = "file", path = "/tmp/x-" .. secret "token" }
    """)
    config.rule("10.lua", 'route { to = { "out", "key" } }\n')
    # check: warnings (a ConfigMap's CI has no secrets), exit 0
    r = herald("check", "--config", config, "--secrets-dir", tmp_path / "none")
    assert r.code == 0, r
    assert "environment variable HERALD_TEST_OUT is not set" in r.err, r
    assert "secret token is not readable" in r.err, r
    # replay sends nothing: warnings too (issue 12 item 7)
    r = herald("replay", "--config", config, "--secrets-dir", tmp_path / "none", "-", input="")
    assert r.code == 0, r
    assert (f"warning: {config}/sinks.lua:1: environment variable HERALD_TEST_OUT is not set "
            "(a placeholder is used for this replay, which sends nothing)") in r.err, r
    # run: errors
    r = herald("run", "--config", config, "--secrets-dir", tmp_path / "none", "--from", "-", input="")
    assert r.code == 1, r
    assert f"error: {config}/sinks.lua:1: environment variable HERALD_TEST_OUT is not set" in r.err, r
    assert f"error: {config}/sinks.lua:2: secret token:" in r.err, r


def test_secret_names_cannot_escape_the_secrets_dir(config, tmp_path):
    config.sinks('sink "out" { type = "file", path = secret "../../etc/passwd" }\n')
    config.rule("10.lua", 'route { to = "out" }\n')
    r = herald("check", "--config", config, "--secrets-dir", tmp_path)
    assert r.code == 1, r
    assert "secret needs a file name" in r.err, r


def test_no_sinks_lua(tmp_path):
    (tmp_path / "rules").mkdir()
    r = herald("check", "--config", tmp_path)
    assert r.code == 1, r
    assert f"error: {tmp_path}/sinks.lua: No such file or directory" in r.err, r


def test_custom_sink_type_from_config_dir(config):
    (config.root / "sinks").mkdir()
    (config.root / "sinks" / "upper.lua").write_text(
        'return { output = "stdout", options = { prefix = { kind = "string", default = ">" } },\n'
        '  encode = function(ev, conf) return conf.prefix .. ev.reason:upper() end }\n')
    config.sinks('sink "u" { type = "upper", prefix = "!" }\n')
    config.rule("10.lua", 'route { to = "u" }\n')
    r = herald("replay", "--config", config, "-",
               input='{"reason":"BackOff","involvedObject":{"kind":"Pod","name":"p"}}\n')
    assert r.code == 0, r
    assert "u would get: !BACKOFF" in r.out, r
