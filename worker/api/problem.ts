import type { Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** RFC 9457 problem details: every error the API answers. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  [extension: string]: unknown;
}

export const PROBLEM_TYPE = 'application/problem+json';

/** `type` URIs are relative references naming the problem (RFC 9457 §3.1.1); `about:blank` where the status says it all. */
export function problem(c: Context, status: ContentfulStatusCode, title: string, detail: string, extensions: Record<string, unknown> = {}): Response {
  const body: Problem = { type: extensions.type ? String(extensions.type) : 'about:blank', title, status, detail, instance: c.req.path, ...extensions };
  return c.body(JSON.stringify(body), status, { 'content-type': PROBLEM_TYPE });
}

/** An error a handler throws to answer a problem. */
export class ApiProblem extends Error {
  override readonly name = 'ApiProblem';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly title: string,
    detail: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
  }
}

/** Problem answers for unknown routes and thrown errors, on any app that serves the API. */
export function installProblemHandlers(app: Hono): void {
  app.onError((err, c) => {
    if (err instanceof ApiProblem) return problem(c, err.status, err.title, err.message, err.extensions);
    console.error(JSON.stringify({ level: 'error', event: 'api.error', path: c.req.path, error: (err as Error).message }));
    return problem(c, 500, 'Internal Server Error', `the request failed: ${(err as Error).message.split('\n')[0]}`);
  });
  app.notFound((c) => problem(c, 404, 'Not Found', `no route for ${c.req.method} ${c.req.path}`));
}
