"""The /healthz endpoint of a running herald keeps answering while 70
half-open clients hold connections (issue 12.4)."""
import socket

from test_reload import Running


def test_healthz_answers_while_70_clients_hold_half_open_requests(config):
    config.sinks('sink "out" { type = "null" }\n')
    config.rule("10.lua", 'route { to = "out" }\n')
    run = Running(config, config.root / "rules")
    flood = []
    try:
        for _ in range(70):
            s = socket.create_connection(("127.0.0.1", run.port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            flood.append(s)
        for _ in range(5):
            status, body = run.get("/healthz")
            assert status == 200, body
    finally:
        for s in flood:
            s.close()
        assert run.close() == 0
