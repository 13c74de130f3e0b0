"""Route: whether the provider serves the endpoint at all, said once before anything else is judged there.

Each endpoint's canary is sent first and alone; its answer says whether the route is there
(:func:`relaycheck.checks.model.route_missing`). On an endpoint that is not served, this is the one check judged;
the others are skipped (see :func:`relaycheck.checks.model.judge`) and the engine sends nothing more there.
"""

from __future__ import annotations

from relaycheck.checks.model import Check, Fail, Level, Outcome, Pass, Recorded, Skip, check
from relaycheck.endpoint import ENDPOINTS, Endpoint

FEATURE = "route"
CANARY = {Endpoint.COMPLETIONS: "logprobs", Endpoint.CHAT: "chat-logprobs"}  # the engine's canaries


def _served(endpoint: Endpoint) -> Check:
    def served(r: Recorded) -> Outcome:
        status = r.serving
        if status.served is None:
            r.exchange(CANARY[endpoint])  # the canary's own early-out: not sent, transport failure
            raise Skip(f"no answer from {endpoint.route} to tell whether it is served")
        if status.served:
            return Pass(status.statement(), observed=f"'{status.probe}' was answered by the endpoint")
        elsewhere = [v.serving for v in r.others]
        if not r.stated and any(s.served is not False for s in elsewhere):
            # nobody said the provider serves it (an ad-hoc run finding out): said, not failed, not scored
            raise Skip(status.statement())
        what = "was stated to serve it" if r.stated else "serves none of the endpoints relaycheck certifies"
        return Fail(f"{status.statement()}, and the provider {what}", f"{endpoint.route} answered by the endpoint",
                    status.evidence, status.probe)

    return check(
        f"{endpoint.prefix}{FEATURE}.served",
        title=f"{endpoint.route} is served",
        clause=f"openai-openapi@f85dbe22 paths./{endpoint.path}.post: the operation exists; an unknown route is "
        "answered 404 \"Invalid URL\", and a request the route takes never 404/405 or an HTML page",
        level=Level.MUST,
        feature=f"{endpoint.prefix}{FEATURE}",
        probes=(CANARY[endpoint],),
        fails_on=(f"{endpoint.value}-route-404", f"{endpoint.value}-route-405", f"{endpoint.value}-route-html"),
        deviations=("D90",),
        route_check=True,
    )(served)


CHECKS = tuple(_served(e) for e in ENDPOINTS)
