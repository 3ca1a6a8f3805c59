#!/usr/bin/env python3
"""Interoperability fixtures between sesame's Fernet codec and Python's `cryptography`.

    python3 interop.py generate > python_tokens.json
        Makes tokens with cryptography's Fernet / MultiFernet at fixed times and writes them,
        with their keys and plaintexts, as JSON. sesame's test `cookie_fernet_interop` opens them.

    python3 interop.py verify < cases.json
        Reads [{"key", "token", "src_hex", "now"}...] (tokens made by sesame) and checks that
        cryptography's Fernet opens each one to the expected plaintext. Exit 0 on success.

Needs `pip install cryptography`. The committed fixture was made with cryptography 48.0.0.
"""
import base64
import json
import sys

from cryptography.fernet import Fernet, MultiFernet, InvalidToken
import cryptography

# Fixed keys so the fixture is stable in review (these keys protect nothing).
KEY_A = base64.urlsafe_b64encode(bytes(range(32))).decode()
KEY_B = base64.urlsafe_b64encode(bytes(range(100, 132))).decode()


def generate():
    fa, fb = Fernet(KEY_A), Fernet(KEY_B)
    payloads = [
        b"",
        b"hello",
        b"q1Vbm5d0Lr0HB1ko3F3UcTmTq0zXq0qSGfFq5HTsAAA",  # a 43-char session token
        b"0123456789abcdef",  # exactly one block: padding adds a whole block
        json.dumps({"user": "ada", "roles": ["admin"], "n": 1}).encode(),
        "unicode: \u00e9\u4e2d\U0001f600".encode(),
        bytes(range(256)),
        b"x" * 1000,
    ]
    times = [0, 499162800, 1700000000, 4102444800]
    cases = []
    for i, src in enumerate(payloads):
        now = times[i % len(times)]
        cases.append({
            "key": KEY_A,
            "token": fa.encrypt_at_time(src, now).decode(),
            "src_hex": src.hex(),
            "timestamp": now,
        })
    # MultiFernet.rotate: a token made with B, re-encrypted under A keeping its timestamp.
    old = fb.encrypt_at_time(b"rotate me", 1700000000)
    rotated = MultiFernet([fa, fb]).rotate(old).decode()
    out = {
        "origin": "made by interop.py with Python cryptography %s (Fernet.encrypt_at_time, MultiFernet.rotate)"
        % cryptography.__version__,
        "tokens": cases,
        "rotation": {
            "keys": [KEY_A, KEY_B],
            "old_token": old.decode(),
            "rotated_token": rotated,
            "src_hex": b"rotate me".hex(),
            "timestamp": 1700000000,
        },
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


def verify():
    cases = json.load(sys.stdin)
    for i, case in enumerate(cases):
        f = Fernet(case["key"])
        try:
            got = f.decrypt_at_time(case["token"].encode(), ttl=60, current_time=case["now"])
        except InvalidToken:
            sys.stderr.write("case %d: cryptography refused sesame's token\n" % i)
            return 1
        if got != bytes.fromhex(case["src_hex"]):
            sys.stderr.write("case %d: plaintext differs\n" % i)
            return 1
    print("verified %d sesame tokens with cryptography %s" % (len(cases), cryptography.__version__))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("generate", "verify"):
        sys.stderr.write(__doc__)
        sys.exit(2)
    sys.exit(generate() if sys.argv[1] == "generate" else verify())
