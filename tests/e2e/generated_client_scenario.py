"""Run by tests/e2e/test_generated_clients.py in .venv-client, with the client generated from the stack's document
importable as ``pregen_client``: ask for a lesson (202), follow its job, read it (200, a hit). Prints what it saw as
JSON; it does not judge it (the test does). Usage: python generated_client_scenario.py <stack url> <token> <subject>
"""

from __future__ import annotations

import json
import sys
import time

from pregen_client import AuthenticatedClient
from pregen_client.api.content import get_content, get_job
from pregen_client.models import AcceptedJobBody, ContentBody, JobBody, JobStatus, Kind


def main(url: str, token: str, subject: str) -> None:
    client = AuthenticatedClient(base_url=url, token=token, timeout=30)  # type: ignore[arg-type]
    miss = get_content.sync_detailed(client=client, kind=Kind.LESSON, subject=subject, topic="Equivalent fractions")
    accepted = miss.parsed
    assert isinstance(accepted, AcceptedJobBody), miss.content
    job = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = get_job.sync(accepted.job_id, client=client)
        assert isinstance(job, JobBody), job
        if job.status in {JobStatus.DONE, JobStatus.FAILED}:
            break
        time.sleep(0.3)
    assert job is not None
    hit = get_content.sync_detailed(client=client, kind=Kind.LESSON, subject=subject, topic="Equivalent fractions")
    body = hit.parsed
    assert isinstance(body, ContentBody), hit.content
    lesson = body.content
    report = {
        "miss": {"status": int(miss.status_code), "x_cache": miss.headers.get("x-cache"), "job_id": accepted.job_id},
        "location": miss.headers.get("location"),
        "job": {"status": job.status.value, "kind": job.kind.value},
        "hit": {"status": int(hit.status_code), "x_cache": hit.headers.get("x-cache"), "kind": body.kind.value},
        "content_class": type(lesson).__name__,
        "title": getattr(lesson, "title", None),
        "sections": [section.heading for section in getattr(lesson, "sections", [])],
        "raw_title": json.loads(hit.content)["content"]["title"],
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:4])
