#!/usr/bin/env bash
# scan-secrets.sh [DIR]: fails if any log in the test suite's log directory
# (DIR, else $NIMBUS_TEST_LOG_DIR) holds a secret the suite noted in
# DIR/secrets.tsv (one "kind<TAB>value" a line; see server/src/test_log.rs),
# as it is or in a common encoding: percent-encoded (a URL path or query,
# a form), base64, JSON-escaped. A finding names the file, the line and the
# kind of secret, never the secret. Prints how much it checked.
set -euo pipefail
dir=${1:-${NIMBUS_TEST_LOG_DIR:?usage: scan-secrets.sh DIR (or set NIMBUS_TEST_LOG_DIR)}}
secrets=$dir/secrets.tsv
[ -s "$secrets" ] || { echo "scan-secrets: no secrets were noted in $secrets" >&2; exit 1; }

python3 - "$dir" <<'PY'
import base64, json, os, subprocess, sys, tempfile
from urllib.parse import quote, quote_plus

directory = sys.argv[1]
# Shorter values (test keys like "x") would match words of every log.
MIN_LENGTH = 6

kinds = {}
too_short = 0
with open(os.path.join(directory, "secrets.tsv"), encoding="utf-8") as noted:
    for line in noted:
        kind, _, value = line.rstrip("\n").partition("\t")
        if len(value) < MIN_LENGTH:
            too_short += 1
        else:
            kinds.setdefault(value, kind)

def encodings(value):
    raw = value.encode()
    return {
        value,
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    }

variants = {}
for value in kinds:
    for encoded in encodings(value):
        variants.setdefault(encoded, value)

logs = sorted(
    os.path.join(root, name)
    for root, _, names in os.walk(directory)
    for name in names
    if name != "secrets.tsv"
)
lines = 0
for path in logs:
    with open(path, "rb") as log:
        lines += sum(1 for _ in log)

# grep -F matches all the patterns in one pass over the logs.
findings = []
if logs:
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".patterns") as patterns:
        patterns.write("\n".join(variants) + "\n")
        patterns.flush()
        grep = subprocess.run(
            ["grep", "-a", "-n", "-H", "-F", "-f", patterns.name, "--", *logs],
            capture_output=True,
        )
    if grep.returncode > 1:
        sys.exit(f"scan-secrets: grep failed: {grep.stderr.decode(errors='replace')}")
    for hit in grep.stdout.decode("utf-8", errors="replace").splitlines():
        path, number, text = hit.split(":", 2)
        found = sorted({kinds[value] for encoded, value in variants.items() if encoded in text})
        findings.append(f"{os.path.relpath(path, directory)}:{number}: {', '.join(found)}")

summary = (f"scan-secrets: {lines} log lines in {len(logs)} files checked for "
           f"{len(kinds)} secrets ({len(variants)} encodings)")
if too_short:
    summary += f"; {too_short} noted values shorter than {MIN_LENGTH} characters not checked"
print(summary)
if findings:
    print(f"scan-secrets: {len(findings)} log lines hold a secret:", file=sys.stderr)
    for finding in findings:
        print(f"  {finding}", file=sys.stderr)
    sys.exit(1)
PY
