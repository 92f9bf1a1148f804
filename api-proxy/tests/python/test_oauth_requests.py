"""The REST API v2 and the OAuth 1.0a provider, driven by requests-oauthlib.

Run by run.sh, which starts a metadata server and a proxy and passes their
URL, the users' password and a registered application in the environment.
"""

import html
import os
import re
import time
import unittest
import uuid

import requests
from oauthlib.oauth1 import SIGNATURE_PLAINTEXT, Client
from requests_oauthlib import OAuth1, OAuth1Session

URL = os.environ["NIMBUS_URL"]
PASSWORD = os.environ["NIMBUS_PASSWORD"]
CONSUMER_KEY = os.environ["NIMBUS_CONSUMER_KEY"]
CONSUMER_SECRET = os.environ["NIMBUS_CONSUMER_SECRET"]
API = {"StackSync-API": "v2"}


def record_secret(kind, value):
    """Notes a secret for scripts/scan-secrets.sh (see server/src/test_log.rs)."""
    log_dir = os.environ.get("NIMBUS_TEST_LOG_DIR")
    if log_dir and value:
        with open(os.path.join(log_dir, "secrets.tsv"), "a", encoding="utf-8") as secrets:
            secrets.write(f"{kind}\t{value}\n")


def authorize(request_token, user):
    """Logs in on the authorize page and allows access; returns the verifier."""
    page = requests.get(f"{URL}/oauth/authorize", params={"oauth_token": request_token})
    assert page.status_code == 200, page.text
    assert "Python app" in page.text
    answer = requests.post(
        f"{URL}/oauth/authorize",
        data={"oauth_token": request_token, "username": user, "password": PASSWORD, "action": "allow"},
        allow_redirects=False,
    )
    assert answer.status_code == 200, answer.text
    match = re.search(r'<code id="verifier">([^<]+)</code>', answer.text)
    assert match, answer.text
    return html.unescape(match.group(1))


def three_legs(user, signature_method="HMAC-SHA1"):
    """The whole flow with requests-oauthlib; returns (token, secret)."""
    oauth = OAuth1Session(
        CONSUMER_KEY,
        client_secret=CONSUMER_SECRET,
        callback_uri="oob",
        signature_method=signature_method,
    )
    request = oauth.fetch_request_token(f"{URL}/oauth/request_token")
    record_secret("oauth token", request["oauth_token"])
    record_secret("oauth token secret", request["oauth_token_secret"])
    verifier = authorize(request["oauth_token"], user)
    record_secret("oauth verifier", verifier)
    access = oauth.fetch_access_token(f"{URL}/oauth/access_token", verifier=verifier)
    record_secret("oauth token", access["oauth_token"])
    record_secret("oauth token secret", access["oauth_token_secret"])
    return access["oauth_token"], access["oauth_token_secret"]


def session(token, signature_method="HMAC-SHA1"):
    api = OAuth1Session(
        CONSUMER_KEY,
        client_secret=CONSUMER_SECRET,
        resource_owner_key=token[0],
        resource_owner_secret=token[1],
        signature_method=signature_method,
    )
    api.headers.update(API)
    return api


class ThreeLeggedAndEveryEndpoint(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.alice_token = three_legs("alice")
        cls.alice = session(cls.alice_token)
        cls.bob = session(three_legs("bob"))

    def test_files_and_folders(self):
        api = self.alice
        name = f"résumé {uuid.uuid4().hex[:6]}.txt"
        created = api.post(
            f"{URL}/v1/file",
            params={"name": name, "parent": "0"},
            data=b"first version",
            headers={"Content-Type": "application/octet-stream"},
        )
        self.assertEqual(created.status_code, 201, created.text)
        item = created.json()
        self.assertEqual(item["filename"], name)
        self.assertEqual(item["status"], "NEW")
        file_url = f"{URL}/v1/file/{item['id']}"

        self.assertEqual(api.get(file_url).json()["size"], len(b"first version"))
        data = api.get(f"{file_url}/data")
        self.assertEqual(data.status_code, 200)
        self.assertEqual(data.content, b"first version")

        replaced = api.put(f"{file_url}/data", data=b"second version",
                           headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(replaced.status_code, 200, replaced.text)
        self.assertEqual(replaced.json()["version"], 2)
        self.assertEqual(api.get(f"{file_url}/data").content, b"second version")

        folder = api.post(f"{URL}/v1/folder", json={"name": f"folder {uuid.uuid4().hex[:6]}"})
        self.assertEqual(folder.status_code, 201, folder.text)
        folder_id = folder.json()["id"]
        # A form body is signed by requests-oauthlib and checked by the proxy.
        sub = api.post(f"{URL}/v1/folder", data={"name": "sub folder", "parent": folder_id})
        self.assertEqual(sub.status_code, 201, sub.text)

        moved = api.put(file_url, json={"name": "renamed.txt", "parent": folder_id})
        self.assertEqual(moved.status_code, 200, moved.text)
        self.assertEqual(moved.json()["parent_id"], folder_id)

        listing = api.get(f"{URL}/v1/folder/{folder_id}")
        self.assertEqual(listing.status_code, 200)
        self.assertEqual(sorted(i["filename"] for i in listing.json()["contents"]),
                         ["renamed.txt", "sub folder"])
        renamed_folder = api.put(f"{URL}/v1/folder/{folder_id}", json={"name": f"renamed {folder_id[:8]}"})
        self.assertEqual(renamed_folder.status_code, 200, renamed_folder.text)

        deleted = api.delete(file_url)
        self.assertEqual(deleted.status_code, 200)
        self.assertEqual(deleted.json()["status"], "DELETED")
        contents = api.get(f"{URL}/v1/folder/{folder_id}/contents", params={"include_deleted": "true"})
        self.assertEqual(
            {i["filename"]: i["status"] for i in contents.json()["contents"]},
            {"renamed.txt": "DELETED", "sub folder": "NEW"},
        )
        gone = api.delete(f"{URL}/v1/folder/{folder_id}")
        self.assertEqual(gone.status_code, 200, gone.text)
        root = api.get(f"{URL}/v1/folder/0").json()
        self.assertTrue(root["is_root"])
        self.assertNotIn(folder_id, [i["id"] for i in root["contents"]])

    def test_versions_and_restore(self):
        api = self.alice
        created = api.post(f"{URL}/v1/file", params={"name": f"history-{uuid.uuid4().hex[:6]}.txt"},
                           data=b"version one", headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(created.status_code, 201, created.text)
        file_url = f"{URL}/v1/file/{created.json()['id']}"
        replaced = api.put(f"{file_url}/data", data=b"version two",
                           headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(replaced.status_code, 200, replaced.text)

        history = api.get(f"{file_url}/versions")
        self.assertEqual(history.status_code, 200, history.text)
        self.assertEqual([(v["version"], v["status"]) for v in history.json()["versions"]],
                         [(2, "CHANGED"), (1, "NEW")])
        old = api.get(f"{file_url}/version/1/data")
        self.assertEqual((old.status_code, old.content), (200, b"version one"))

        restored = api.post(f"{file_url}/version/1/restore")
        self.assertEqual(restored.status_code, 200, restored.text)
        self.assertEqual(restored.json()["version"], 3)
        self.assertEqual(api.get(f"{file_url}/data").content, b"version one")
        self.assert_refused(self.bob.get(f"{file_url}/versions"), 404)
        self.assert_refused(self.bob.post(f"{file_url}/version/1/restore"), 404)

    def test_plaintext_flow_when_the_deployment_allows_it(self):
        token = three_legs("alice", signature_method=SIGNATURE_PLAINTEXT)
        root = session(token, SIGNATURE_PLAINTEXT).get(f"{URL}/v1/folder/0")
        self.assertEqual(root.status_code, 200, root.text)

    def upload_for(self, api):
        created = api.post(f"{URL}/v1/file", params={"name": f"keep-{uuid.uuid4().hex}"}, data=b"keep",
                           headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(created.status_code, 201, created.text)
        return created.json()["id"]

    def assert_refused(self, response, status):
        self.assertEqual(response.status_code, status, response.text)
        self.assertEqual(response.json()["error"], status)

    def assert_still_there(self, file_id):
        item = self.alice.get(f"{URL}/v1/file/{file_id}")
        self.assertEqual(item.status_code, 200)
        self.assertEqual(item.json()["status"], "NEW")

    def test_refusals_change_nothing(self):
        file_id = self.upload_for(self.alice)
        target = f"{URL}/v1/file/{file_id}"
        token, secret = self.alice_token

        wrong_secret = OAuth1(CONSUMER_KEY, CONSUMER_SECRET, token, "not-the-secret")
        self.assert_refused(requests.delete(target, auth=wrong_secret, headers=API), 401)

        stale = OAuth1(CONSUMER_KEY, CONSUMER_SECRET, token, secret, timestamp=str(int(time.time()) - 3600))
        self.assert_refused(requests.delete(target, auth=stale, headers=API), 401)

        client = Client(CONSUMER_KEY, CONSUMER_SECRET, token, secret,
                        nonce=uuid.uuid4().hex, timestamp=str(int(time.time())))
        uri, headers, _ = client.sign(target, http_method="GET")
        self.assertEqual(requests.get(uri, headers={**headers, **API}).status_code, 200)
        replay = requests.get(uri, headers={**headers, **API})
        self.assert_refused(replay, 401)
        self.assertIn("nonce", replay.json()["description"])

        uri, headers, _ = Client(CONSUMER_KEY, CONSUMER_SECRET, token, secret).sign(target, http_method="DELETE")
        tampered = dict(headers)
        tampered["Authorization"] = re.sub(
            r'oauth_signature="([^"]{4})', lambda m: 'oauth_signature="' + m.group(1)[::-1], headers["Authorization"]
        )
        self.assertNotEqual(tampered["Authorization"], headers["Authorization"])
        self.assert_refused(requests.delete(uri, headers={**tampered, **API}), 401)

        self.assert_refused(self.bob.delete(target), 404)
        self.assert_refused(self.bob.get(f"{target}/data"), 404)
        self.assert_still_there(file_id)

    def test_a_revoked_token_stops_working(self):
        token = three_legs("alice")
        api = session(token)
        self.assertEqual(api.get(f"{URL}/v1/folder/0").status_code, 200)
        login = requests.get(f"{URL}/auth/v1.0", headers={"X-Auth-User": "alice:alice", "X-Auth-Key": PASSWORD})
        self.assertEqual(login.status_code, 200)
        record_secret("device token", login.headers["X-Auth-Token"])
        user = {"X-Auth-Token": login.headers["X-Auth-Token"]}
        listed = requests.get(f"{URL}/oauth/tokens", headers=user).json()
        self.assertIn(token[0], [t["token"] for t in listed])
        revoked = requests.delete(f"{URL}/oauth/tokens/{token[0]}", headers=user)
        self.assertEqual(revoked.status_code, 204)
        self.assert_refused(api.get(f"{URL}/v1/folder/0"), 401)
        self.assertNotIn(token[0], [t["token"] for t in requests.get(f"{URL}/oauth/tokens", headers=user).json()])

    def test_the_openapi_document_is_served(self):
        document = requests.get(f"{URL}/openapi.json").json()
        self.assertIn("/v1/file/{id}/data", document["paths"])


SYNC_DIR = os.environ.get("NIMBUS_SYNC_DIR")


def wait_until(what, probe, seconds=120):
    """Polls `probe` until it returns something true; fails after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"{what}: not seen within {seconds} s")


@unittest.skipUnless(SYNC_DIR, "no desktop client running (run.sh starts one when it builds)")
class WithARunningDesktopClient(unittest.TestCase):
    """`nimbus sync` runs on alice's folder SYNC_DIR (started by run.sh)."""

    @classmethod
    def setUpClass(cls):
        cls.api = session(three_legs("alice"))

    def test_api_uploads_appear_on_the_desktop(self):
        data = os.urandom(900_000) + b"from the API"
        created = self.api.post(f"{URL}/v1/file", params={"name": "from-api.bin"}, data=data,
                                headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(created.status_code, 201, created.text)
        path = os.path.join(SYNC_DIR, "from-api.bin")

        def synced():
            try:
                with open(path, "rb") as f:
                    return f.read() == data
            except FileNotFoundError:
                return False

        wait_until("the API's file in the desktop folder", synced)

    def test_desktop_files_download_through_the_api_byte_for_byte(self):
        data = os.urandom(1_300_000) + b"from the desktop"
        tmp = os.path.join(SYNC_DIR, ".from-desktop.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(SYNC_DIR, "from-desktop.bin"))

        def listed():
            root = self.api.get(f"{URL}/v1/folder/0").json()
            return next((i for i in root["contents"]
                         if i["filename"] == "from-desktop.bin" and i["size"] == len(data)), None)

        item = wait_until("the desktop's file in the API", listed)
        downloaded = self.api.get(f"{URL}/v1/file/{item['id']}/data")
        self.assertEqual(downloaded.status_code, 200)
        self.assertEqual(downloaded.content, data)


if __name__ == "__main__":
    unittest.main()
