"""A request fuzzer for the Swift API, on the idea of test_openapi_fuzz.py
(which the Swift API has no OpenAPI document for): Hypothesis draws every
verb at every level (account, container, object), names with odd bytes,
listing and large-object query parameters and the headers Swift reads,
sent with alice's TempAuth token. Every answer must be below 500, among the
statuses Swift documents for that verb and level, carry X-Trans-Id, have a
Content-Length that matches its body, a parseable JSON or XML listing, a
valid Content-Range on 206 and `bytes */N` on 416, and come within
conftest.REQUEST_TIMEOUT.

Run by run.sh, beside test_oauth_requests.py (whose users it signs in as).
"""

import json
import re
import xml.etree.ElementTree as ElementTree
from urllib.parse import quote

import pytest
import requests
from hypothesis import note
from hypothesis import strategies as st
from hypothesis import given

from conftest import REQUEST_TIMEOUT
from test_oauth_requests import PASSWORD, URL

VERBS = ["GET", "HEAD", "PUT", "POST", "DELETE", "COPY", "OPTIONS"]
LEVELS = ["account", "container", "object"]

# Created before each operation's examples, so that most requests meet
# something that exists.
CONTAINERS = ["fuzz-a", "fuzz-b"]
OBJECTS = {"small.txt": b"0123456789" * 10, "dir/nested.bin": bytes(range(256)), "empty": b""}

# What a request may be answered whatever its verb and level: a malformed
# request or header (400), a name Swift refuses (412: invalid UTF-8 or NUL),
# a refused copy source or ACL (403), a verb the level does not serve (405),
# a body or header too large (413, 431), the rate limit (429).
ANY = {400, 403, 405, 412, 413, 414, 429, 431}
# Per verb and level, what Swift's API reference lists besides ANY, and
# 404 for an OPTIONS whose path names nothing that can exist (a container
# name holding a slash, sent as %2F).
EXPECTED = {
    ("GET", "account"): {200, 204, 404, 406, 416},
    ("HEAD", "account"): {200, 204, 404, 406},
    ("PUT", "account"): set(),
    ("POST", "account"): {204, 404},
    ("DELETE", "account"): set(),
    ("COPY", "account"): set(),
    ("OPTIONS", "account"): {200, 401, 404},
    ("GET", "container"): {200, 204, 404, 406, 416},
    ("HEAD", "container"): {200, 204, 404, 406},
    ("PUT", "container"): {201, 202, 404},
    ("POST", "container"): {202, 204, 404},
    ("DELETE", "container"): {204, 404, 409},
    ("COPY", "container"): set(),
    ("OPTIONS", "container"): {200, 401, 404},
    ("GET", "object"): {200, 206, 304, 404, 409, 416},
    ("HEAD", "object"): {200, 304, 404, 409},
    ("PUT", "object"): {201, 202, 404, 408, 409, 411, 416, 422},
    ("POST", "object"): {202, 404, 409},
    ("DELETE", "object"): {204, 404, 409},
    ("COPY", "object"): {201, 404, 409, 416},
    ("OPTIONS", "object"): {200, 401, 404},
}
assert len(EXPECTED) == len(VERBS) * len(LEVELS)


def sign_in(user):
    """TempAuth: (storage URL, token) of `user`."""
    answer = requests.get(
        f"{URL}/auth/v1.0",
        headers={"X-Auth-User": f"{user}:{user}", "X-Auth-Key": PASSWORD},
        timeout=REQUEST_TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    return answer.headers["X-Storage-Url"], answer.headers["X-Auth-Token"]


@pytest.fixture(scope="module")
def alice():
    return sign_in("alice")


def seed_account(storage_url, token):
    auth = {"X-Auth-Token": token}
    for container in CONTAINERS:
        # An earlier example may have made it versioned, into a missing container.
        reset = {**auth, "X-Remove-Versions-Location": "x", "X-Remove-History-Location": "x"}
        created = requests.put(f"{storage_url}/{container}", headers=reset, timeout=REQUEST_TIMEOUT)
        assert created.status_code in (201, 202), created.text
        for name, data in OBJECTS.items():
            stored = requests.put(f"{storage_url}/{container}/{quote(name)}", data=data, headers=auth,
                                  timeout=REQUEST_TIMEOUT)
            assert stored.status_code == 201, stored.text


# --- names -----------------------------------------------------------------

ODD_NAMES = [b".", b"..", b"%", b"\x00", b"a\x00b", b"\xff\xfe", b"\xc3", "ü/ß".encode(), b"a//b",
             b"/leading", b"trailing/", b" ", b"?x=1", b"#frag", b"a" * 256, b"a" * 257, b"o" * 1024,
             b"o" * 1025, b"\r\n", b"AUTH_alice"]


def names(known):
    return st.one_of(
        st.sampled_from(known),
        st.sampled_from(ODD_NAMES),
        st.text(min_size=1, max_size=30).map(str.encode),
        st.binary(min_size=1, max_size=30),
    )


def container_names():
    return names([c.encode() for c in CONTAINERS])


def object_names():
    return names([o.encode() for o in OBJECTS])


def quoted(name, safe=""):
    return quote(name, safe=safe)


# --- query parameters ------------------------------------------------------

def query_values():
    return st.one_of(
        st.sampled_from(["", "json", "xml", "plain", "true", "false", "0", "1", "-1", "10000",
                         "99999999999999999999", "get", "put", "delete", "/", "fuzz-a", "small.txt",
                         "%", "%zz", "%ff", "\x00"]),
        st.integers(min_value=-10, max_value=20_000).map(str),
        st.text(max_size=20),
    )


QUERY_KEYS = ["limit", "marker", "end_marker", "prefix", "delimiter", "format", "path", "reverse",
              "multipart-manifest", "symlink"]


def query_strings():
    pairs = st.lists(st.tuples(st.sampled_from(QUERY_KEYS), query_values()), max_size=4)
    encoded = pairs.map(lambda items: "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in items))
    # Unreadable ones too: raw escapes that are not UTF-8 or not escapes.
    raw = st.sampled_from(["format=json&limit=%FF", "marker=%zz", "=", "&&&", "limit", "prefix=%00",
                           "format=%E2%82", "limit=1&limit=2"])
    return st.one_of(encoded, raw)


# --- headers ---------------------------------------------------------------

def header_text():
    return st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)


def ranges():
    spans = st.one_of(
        st.tuples(st.integers(0, 300), st.integers(0, 300)).map(lambda p: f"{p[0]}-{p[1]}"),
        st.integers(0, 300).map(lambda n: f"{n}-"),
        st.integers(0, 300).map(lambda n: f"-{n}"),
        st.sampled_from(["", "-", "a-b", "99999999999999999999999-"]),
    )
    return st.one_of(
        st.lists(spans, min_size=1, max_size=3).map(lambda s: "bytes=" + ",".join(s)),
        header_text(),
    )


def paths():
    """`container/object` references, for copies and manifests."""
    return st.one_of(
        st.tuples(st.sampled_from(CONTAINERS), st.sampled_from(list(OBJECTS))).map(lambda p: f"{p[0]}/{p[1]}"),
        st.tuples(container_names(), object_names()).map(
            lambda p: f"{quoted(p[0])}/{quoted(p[1], safe='/')}"),
        header_text(),
    )


def dates():
    return st.one_of(
        st.sampled_from(["Thu, 01 Jan 1970 00:00:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT",
                         "Sun, 06 Nov 1994 08:49:37 GMT", "yesterday"]),
        header_text(),
    )


def metadata_header(level):
    prefix = {"account": "X-Account-Meta-", "container": "X-Container-Meta-", "object": "X-Object-Meta-"}[level]
    names_ = st.one_of(st.sampled_from(["Color", "Quota-Bytes", "Quota-Count", "Temp-URL-Key",
                                        "Access-Control-Allow-Origin", "Web-Index"]),
                       st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_", min_size=1, max_size=20))
    return st.tuples(names_.map(lambda n: prefix + n), st.one_of(header_text(), st.just("a" * 300)))


def headers(level):
    optional = {
        "Range": ranges(),
        "X-Copy-From": paths().map(lambda p: "/" + p),
        "Destination": paths(),
        "X-Object-Manifest": paths(),
        "X-Delete-At": st.one_of(st.integers(-5, 2**40).map(str), header_text()),
        "X-Delete-After": st.one_of(st.integers(-5, 10**6).map(str), header_text()),
        "If-Match": st.one_of(st.sampled_from(["*", '"nope"']), header_text()),
        "If-None-Match": st.one_of(st.sampled_from(["*", '"nope"']), header_text()),
        "If-Modified-Since": dates(),
        "If-Unmodified-Since": dates(),
        "Content-Type": st.sampled_from(["text/plain", "application/json", "", "x/y;swift_bytes=3",
                                         "application/directory"]),
        "X-Symlink-Target": paths(),
        "X-Detect-Content-Type": st.sampled_from(["true", "false", "maybe"]),
        "X-Versions-Location": st.sampled_from(CONTAINERS + ["missing"]),
        "X-Container-Read": st.sampled_from([".r:*", ".r:*,.rlistings", "bob:bob", "garbage,,"]),
        "Origin": st.sampled_from(["http://example.com", "null"]),
        "Access-Control-Request-Method": st.sampled_from(["GET", "PUT", "BREW"]),
        "Accept": st.sampled_from(["application/json", "application/xml", "text/xml", "text/plain", "*/*",
                                   "image/png"]),
    }
    chosen = st.lists(st.sampled_from(sorted(optional)), unique=True, max_size=4)

    @st.composite
    def draw(draw_):
        result = {name: draw_(optional[name]) for name in draw_(chosen)}
        for name, value in draw_(st.lists(metadata_header(level), max_size=2)):
            result[name] = value
        return result

    return draw()


# --- the checks ------------------------------------------------------------

CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
UNSATISFIED_RANGE = re.compile(r"bytes \*/\d+")


def check(verb, level, response):
    status = response.status_code
    assert status < 500, f"{status}: {response.text[:500]}"
    assert status in EXPECTED[(verb, level)] | ANY, f"unexpected {status}: {response.text[:500]}"
    assert "X-Trans-Id" in response.headers, "no X-Trans-Id"
    body = response.content
    length = response.headers.get("Content-Length")
    if verb != "HEAD" and length is not None and "Content-Encoding" not in response.headers:
        assert int(length) == len(body), f"Content-Length {length}, body of {len(body)} bytes"
    if verb == "HEAD":
        assert body == b"", "a body on HEAD"
    content_type = response.headers.get("Content-Type", "")
    if verb == "GET" and level != "object" and status == 200:
        if content_type.startswith("application/json"):
            json.loads(body)
        elif content_type.startswith(("application/xml", "text/xml")):
            ElementTree.fromstring(body)
    if status == 206 and not content_type.startswith("multipart/byteranges"):
        match = CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
        assert match, f"206 with Content-Range {response.headers.get('Content-Range')!r}"
        first, last, size = map(int, match.groups())
        assert first <= last < size, f"Content-Range {match.group(0)}"
        assert last - first + 1 == len(body), f"Content-Range {match.group(0)}, body of {len(body)} bytes"
    if status == 416:
        content_range = response.headers.get("Content-Range", "")
        assert UNSATISFIED_RANGE.fullmatch(content_range), f"416 with Content-Range {content_range!r}"


# --- the operations --------------------------------------------------------

@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("verb", VERBS)
def test_swift_operation(verb, level, alice):
    storage_url, token = alice
    seed_account(storage_url, token)

    @given(container=container_names(), obj=object_names(), query=query_strings(), extra=headers(level),
           body=st.one_of(st.just(b""), st.binary(max_size=300)))
    def example(container, obj, query, extra, body):
        url = storage_url
        if level != "account":
            url += "/" + quoted(container)
        if level == "object":
            url += "/" + quoted(obj, safe="/")
        if query:
            url += "?" + query
        sent = {**extra, "X-Auth-Token": token}
        note(f"{verb} {url} {sent}")
        request = requests.Request(verb, storage_url, headers=sent,
                                   data=body if verb in ("PUT", "POST") else None).prepare()
        # As drawn: requests would re-quote what is not a valid escape.
        request.url = url
        with requests.Session() as session:
            response = session.send(request, allow_redirects=False, timeout=REQUEST_TIMEOUT)
        check(verb, level, response)

    example()
