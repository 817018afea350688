"""Schemathesis hooks for .ci/schemathesis (loaded by `hooks` in .ci/schemathesis.toml).

Fresh idempotency keys: Hypothesis draws short header values and draws the same ones again
("0", "A"), so two creations with the same body often share an `Idempotency-Key`. The second is then, as
documented, a replay of the first answer, and if a stateful scenario deleted that record in
between, its check that a "just created" record exists fails on a correct service. Each
well-formed key of a positive case is therefore made unique per call (or dropped where the
operation refuses the header); negative cases are sent as drawn, so the service's refusals are
still tested.
"""

import re
import uuid

import schemathesis

# The POSTs whose answer carries a secret: they refuse the header with 400 (openapi.json says
# so in the header's description), so a positive case of them is sent without it.
REFUSE_KEYS = {("POST", "/api/v1/webhooks"), ("POST", "/api/v1/webhooks/{id}/rotate-secret")}

# The documented pattern of the header (openapi.json, parameter `Idempotency-Key`).
KEY = re.compile(r'^(?:[!#-~]{1,255}|"(?:[ !#-\[\]-~]|\\[\\"]){1,255}")$')


@schemathesis.hook
def before_call(context, case, kwargs):
    # A negative case is left alone: an edit makes schemathesis revalidate it as positive, and
    # it would then send the header the case is about (say, a missing Authorization).
    if case.meta is not None and case.meta.generation.mode.is_negative:
        return
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key" and isinstance(headers[name], str) and KEY.match(headers[name]):
            if (case.method.upper(), case.operation.path) in REFUSE_KEYS:
                # Documented as refused (400): a well-formed key is no positive case here.
                del headers[name]
            else:
                headers[name] = str(uuid.uuid4())


# An NDJSON import body is text (its schema is a string); send it as text/plain bodies are.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")
