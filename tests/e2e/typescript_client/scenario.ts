// Run by tests/e2e/test_generated_clients.py after `openapi-typescript` wrote schema.d.ts from the stack's document:
// ask for a lesson (202), follow its job, read it (200, a hit), all typed by the document. Prints what it saw as
// JSON; the test judges it. Usage: node build/scenario.js <stack url> <token> <subject>
import createClient from "openapi-fetch";
import type { components, paths } from "./schema.js";

type Lesson = components["schemas"]["Lesson"];

const [url, token, subject] = process.argv.slice(2);
const client = createClient<paths>({ baseUrl: url, headers: { Authorization: `Bearer ${token}` } });
const query = { kind: "lesson", subject, topic: "Equivalent fractions" } as const;

const miss = await client.GET("/v1/content", { params: { query } });
if (miss.response.status !== 202 || !miss.data || !("job_id" in miss.data)) throw new Error(JSON.stringify(miss.error));
const jobId: string = miss.data.job_id;
let status: components["schemas"]["JobStatus"] = miss.data.status;
const deadline = Date.now() + 60_000;
while (status !== "done" && status !== "failed" && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 300));
  const job = await client.GET("/v1/jobs/{job_id}", { params: { path: { job_id: jobId } } });
  if (!job.data) throw new Error(JSON.stringify(job.error));
  status = job.data.status;
}
const hit = await client.GET("/v1/content", { params: { query } });
if (!hit.data || !("content" in hit.data)) throw new Error(JSON.stringify(hit.error));
const lesson = hit.data.content as Lesson; // the answer's kind says which schema: lesson
console.log(
  JSON.stringify({
    miss: { status: miss.response.status, x_cache: miss.response.headers.get("x-cache"), job_id: jobId },
    location: miss.response.headers.get("location"),
    job: { status },
    hit: { status: hit.response.status, x_cache: hit.response.headers.get("x-cache"), kind: hit.data.kind },
    title: lesson.title,
    sections: lesson.sections.map((section) => section.heading),
  }),
);
