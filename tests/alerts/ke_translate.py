"""kube-eventer's flags -> herald's files, through herald itself: until the
CLI has `herald migrate`, a throwaway configuration calls the translator
(herald.kubeeventer) inside herald's Lua host and prints each file
base64-encoded; only secret *names* are printed, never their values."""
import base64
import os
import pathlib
import re
import subprocess
import tempfile

SOURCE = pathlib.Path(os.environ.get("HERALD_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
BIN = os.environ.get("HERALD_BIN", str(SOURCE / "build" / "herald"))

PROGRAM = '''
local b64 = require "herald.base64"
local r, err = require("herald.kubeeventer").translate({ %s }, { getenv = function() return nil end })
if not r then error(err, 0) end
for name, text in pairs(r.files) do print("KE-FILE " .. name .. " " .. b64.encode(text)) end
local names = {}
for n in pairs(r.secrets) do names[#names + 1] = n end
table.sort(names)
print("KE-SECRETS " .. table.concat(names, ","))
sink "unused" { type = "null" }
'''


def translate(args):
    """Returns ({relative path: text}, [secret names])."""
    with tempfile.TemporaryDirectory() as d:
        cfg = pathlib.Path(d)
        (cfg / "rules").mkdir()
        (cfg / "rules" / "10.lua").write_text('route { to = "unused" }\n')
        (cfg / "sinks.lua").write_text(PROGRAM % ", ".join(f"[==[{a}]==]" for a in args))
        out = subprocess.run([BIN, "check", "--config", str(cfg)], capture_output=True, text=True, timeout=60)
    files = {m.group(1): base64.b64decode(m.group(2)).decode()
             for m in re.finditer(r"KE-FILE (\S+) (\S+)", out.stderr)}
    names = re.search(r"KE-SECRETS (\S*)", out.stderr)
    assert files and names, out.stderr
    return files, [n for n in names.group(1).split(",") if n]
