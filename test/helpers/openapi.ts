import fs from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';
import { repoRoot } from './paths.js';

/** Checks API responses against docs/openapi.yaml: the operation's response for the status and content type. */

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const DOC_ID = 'openapi.yaml';
const doc = parse(fs.readFileSync(path.join(repoRoot, 'docs/openapi.yaml'), 'utf8')) as any;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(doc, DOC_ID);

const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

export interface CheckedResponse {
  status: number;
  contentType: string;
  body: unknown;
}

/** Fetches, then validates; throws naming the first mismatch. */
export async function checkedFetch(
  url: string,
  init: RequestInit | undefined,
  operation: { method: string; path: string },
): Promise<CheckedResponse & { headers: Headers }> {
  const res = await fetch(url, init);
  const contentType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  const text = await res.text();
  const body = contentType.endsWith('json') ? JSON.parse(text) : text;
  validateResponse(operation.method, operation.path, { status: res.status, contentType, body });
  return { status: res.status, contentType, body, headers: res.headers };
}

export function validateResponse(method: string, pathTemplate: string, r: CheckedResponse): void {
  const op = doc.paths?.[pathTemplate]?.[method.toLowerCase()];
  if (!op) throw new Error(`docs/openapi.yaml has no operation ${method} ${pathTemplate}`);
  let response = op.responses?.[String(r.status)];
  let base = pointer('paths', pathTemplate, method.toLowerCase(), 'responses', String(r.status));
  if (!response)
    throw new Error(
      `${method} ${pathTemplate} answered ${r.status}, which docs/openapi.yaml does not document (documented: ${Object.keys(op.responses).join(', ')})`,
    );
  if (response.$ref) {
    const name = String(response.$ref).split('/').pop()!;
    response = doc.components.responses[name];
    base = pointer('components', 'responses', name);
  }
  if (!response.content?.[r.contentType])
    throw new Error(
      `${method} ${pathTemplate} ${r.status} answered ${r.contentType || 'no content type'}; documented: ${Object.keys(response.content ?? {}).join(', ')}`,
    );
  const validate = ajv.getSchema(`${DOC_ID}#/${base}/content/${pointer(r.contentType)}/schema`);
  if (!validate) throw new Error(`no schema for ${method} ${pathTemplate} ${r.status} ${r.contentType}`);
  if (!validate(r.body))
    throw new Error(
      `${method} ${pathTemplate} ${r.status}: the body does not match docs/openapi.yaml: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(r.body).slice(0, 500)}`,
    );
}
