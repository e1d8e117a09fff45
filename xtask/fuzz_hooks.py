"""Schemathesis hooks for `cargo xtask fuzz --api`: proofs of work.

The description marks `Heard-Proof` as required on complaint intake, and a
proof is a solved challenge that schemathesis cannot make up: without these
hooks every generated complaint is refused at the proof check and never
reaches the body's validation. Before each intake request these hooks fetch
a real challenge from the running collector (`GET
/api/v1/sites/{site_key}/challenge`), solve it as the widget does, and put
the solution in the header. The collector of the fuzz runs with a low base
difficulty, so solving here costs milliseconds; the server checks the proof
exactly as in production.

Nine in ten site API requests are sent to the demo site (the rest keep the
generated key: unknown sites), so that most reach the site's own checks.

A generated category is one of the demo site's only by chance, so every
other schema-valid complaint is sent with the category "product" instead,
to reach storage too.

Not every request gets a good proof. A case whose generated mutation is the
proof header itself (missing, or not of the documented shape) is sent as
generated; of the rest, one in ten keeps the random proof schemathesis drew
(a well-shaped header that solves nothing: `proof_invalid`) and one in ten
repeats the last proof a complaint was stored with (`proof_used`). The
checks stay those `fuzz.rs` asks for: no 5xx, invalid requests refused.

Every intake answer is tallied by its status and error code; at exit the
tally is written to `HEARD_FUZZ_TALLY` (a line per answer: count, a tab,
the answer), which `fuzz.rs` prints and checks: complaints with a solved
proof must have been both stored and refused by the body's validation,
and a spent proof must never have stored another complaint (`reused 201`
other than an idempotent replay).
"""

import atexit
import hashlib
import os
import threading

import requests
import schemathesis

PROOF_HEADER = "Heard-Proof"
INTAKE_PATH = "/api/v1/sites/{site_key}/complaints"
DEMO_SITE = "demo"

BASE_URL = os.environ["HEARD_FUZZ_URL"].rstrip("/")
TALLY_PATH = os.environ["HEARD_FUZZ_TALLY"]

_lock = threading.Lock()
_sent = 0
_site_calls = 0
_last_stored_proof = None
# What each intake request carried: "solved", "generated" (schemathesis' own
# value), "mutated" (a negative case about the header) or "reused".
_proof_kind = {}
# "{proof kind} {status} {error code}" -> count
_tally = {}


def _is_intake(case):
    return case.method.upper() == "POST" and case.path == INTAKE_PATH


def _header_is_mutated(case, headers):
    """Whether this negative case is about the proof header itself."""
    present = {name.lower() for name in headers}
    if PROOF_HEADER.lower() not in present:
        return True
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative:
        return False
    data = meta.phase.data
    names = []
    if getattr(data, "parameter", None) is not None:
        names.append(data.parameter)
    for mutation in getattr(data, "mutations", ()) or ():
        if getattr(mutation, "parameter", None) is not None:
            names.append(mutation.parameter)
    return any(str(name).lower() == PROOF_HEADER.lower() for name in names)


def solve(salt, challenge, maxnumber):
    """The n in 0..=maxnumber with hex(SHA-256(salt + decimal(n))) == challenge."""
    prefix = hashlib.sha256(salt.encode())
    for number in range(maxnumber + 1):
        candidate = prefix.copy()
        candidate.update(str(number).encode())
        if candidate.hexdigest() == challenge:
            return number
    return None


def solved_proof(site_key):
    """A fresh solution for the site, or None when it gives no challenge."""
    response = requests.get(
        f"{BASE_URL}/api/v1/sites/{requests.utils.quote(str(site_key), safe='')}/challenge",
        timeout=30,
    )
    if response.status_code != 200:
        return None
    challenge = response.json()
    if challenge.get("algorithm") != "SHA-256":
        raise AssertionError(f"unknown proof-of-work algorithm: {challenge!r}")
    number = solve(challenge["salt"], challenge["challenge"], int(challenge["maxnumber"]))
    if number is None:
        raise AssertionError(f"no number solves the collector's challenge {challenge!r}")
    return f"{challenge['salt']}:{number}:{challenge['signature']}"


def _set_header(headers, value):
    for name in list(headers):
        if name.lower() == PROOF_HEADER.lower():
            del headers[name]
    headers[PROOF_HEADER] = value


@schemathesis.hook
def before_call(context, case, kwargs):
    global _sent, _site_calls
    path_parameters = case.path_parameters or {}
    if "site_key" in path_parameters:
        # Most site API requests go to the demo site, which exists; the rest
        # keep schemathesis' own key (an unknown site: 404).
        with _lock:
            _site_calls += 1
            keep_generated = _site_calls % 10 == 0
        if not keep_generated:
            case.path_parameters = {**path_parameters, "site_key": DEMO_SITE}
    if not _is_intake(case):
        return
    headers = case.headers if case.headers is not None else {}
    if _header_is_mutated(case, headers):
        kind = "mutated"
    else:
        with _lock:
            _sent += 1
            turn = _sent % 10
            reused = _last_stored_proof
        if turn == 0:
            kind = "generated"
        elif turn == 5 and reused is not None:
            kind = "reused"
            _set_header(headers, reused)
        else:
            proof = solved_proof((case.path_parameters or {}).get("site_key", ""))
            if proof is None:
                kind = "generated"
            else:
                kind = "solved"
                _set_header(headers, proof)
        case.headers = headers
        # A generated category is almost never one of the site's, so every
        # other valid body gets the demo's "product": those get stored.
        meta = case.meta
        positive = meta is None or not meta.generation.mode.is_negative
        if positive and turn % 2 == 1 and isinstance(case.body, dict):
            case.body = {**case.body, "category": "product"}
    with _lock:
        _proof_kind[id(case)] = kind


def _field_name(name):
    """A field error's field for the tally: generated answer keys are all
    `answers.*`, and nothing unprintable reaches the tally's lines."""
    if name.startswith("answers."):
        return "answers.*"
    return "".join(c if c.isprintable() else "?" for c in name)


@schemathesis.hook
def after_call(context, case, response):
    global _last_stored_proof
    if not _is_intake(case):
        return
    error = ""
    if response.status_code >= 400:
        try:
            body = response.json()
            fields = sorted({f"{_field_name(field['field'])}:{field['code']}" for field in body.get("fields") or []})
            error = body.get("error", "") + (f" [{', '.join(fields)}]" if fields else "")
        except Exception:
            error = "(not an error body)"
    status = str(response.status_code)
    # Schemathesis' response headers: lower-case names, lists of values.
    if "true" in response.headers.get("idempotent-replayed", []):
        # A retry of a stored complaint: its first receipt, nothing spent.
        status += " replayed"
    with _lock:
        kind = _proof_kind.pop(id(case), "unknown")
        key = f"{kind} {status} {error}".strip()
        _tally[key] = _tally.get(key, 0) + 1
        if status == "201" and kind == "solved":
            _last_stored_proof = (case.headers or {}).get(PROOF_HEADER)


@atexit.register
def _write_tally():
    with _lock:
        with open(TALLY_PATH, "w", encoding="utf-8") as file:
            for answer, count in sorted(_tally.items()):
                file.write(f"{count}\t{answer}\n")
