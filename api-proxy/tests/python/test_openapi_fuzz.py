"""Schemathesis against the proxy's own description of its HTTP API
(/openapi.json): every operation with data the schema allows and data it
does not, signed with a real OAuth access token. Every answer must be
below 500, among the statuses the operation documents, of its documented
content type and schema, and come within conftest.REQUEST_TIMEOUT.

Run by run.sh (the proxy and metadata server it starts; the URL, password
and application in the environment); the OAuth dance is
test_oauth_requests.three_legs.
"""

from pathlib import Path

import pytest
import schemathesis
from requests_oauthlib import OAuth1
from schemathesis.config import SchemathesisConfig

from conftest import REQUEST_TIMEOUT
from test_oauth_requests import CONSUMER_KEY, CONSUMER_SECRET, URL, three_legs

schema = schemathesis.openapi.from_url(
    f"{URL}/openapi.json",
    config=SchemathesisConfig.from_path(Path(__file__).with_name("schemathesis.toml")),
)


@pytest.fixture(scope="session")
def alice():
    """A valid OAuth identity: alice's access token, got through the three legs."""
    token, secret = three_legs("alice")
    return OAuth1(CONSUMER_KEY, CONSUMER_SECRET, token, secret)


@schema.parametrize()
def test_every_operation_keeps_its_description(case, alice):
    case.call_and_validate(auth=alice, timeout=REQUEST_TIMEOUT)
