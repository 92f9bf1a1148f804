"""Hypothesis settings shared by the fuzzers (test_openapi_fuzz.py,
test_swift_fuzz.py), from the environment:

* NIMBUS_FUZZ_EXAMPLES: examples per operation (default 25, CI's budget);
  a long run sets 1000 or more.
* NIMBUS_FUZZ_SEED: run.sh hands it to Hypothesis (--hypothesis-seed) to
  replay a run.
"""

import os

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("NIMBUS_FUZZ_EXAMPLES", "25"))

# No example database (each run starts from its seed, nothing is written
# beside the sources) and no deadline (a request's time depends on the
# machine; hangs are caught by the request timeouts instead).
settings.register_profile(
    "nimbus-fuzz",
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
settings.load_profile("nimbus-fuzz")

# Seconds a request may take before the fuzzers count it as a hang.
REQUEST_TIMEOUT = (10, 60)
