// Validates real responses against the official OpenAPI schemas of the client-server API
// (MATRIX_SPEC_DIR/bundled/client-server.json: every $ref resolved, JSON Schema 2020-12), or of the
// server-server API (`new SpecSchemas(undefined, 'server-server.json')`). The
// operation is found from the method and the concrete path; the response schema from the status.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { matrixSpecDir } from './matrix-spec.js';

type Schema = Record<string, unknown>;
interface Operation {
  operationId?: string;
  responses: Record<string, { content?: Record<string, { schema?: Schema }> }>;
}
interface Spec {
  paths: Record<string, Record<string, Operation>>;
}

/** definitions/errors/error.yaml: what every error body has (for responses the spec gives no schema). */
const ERROR_SCHEMA: Schema = {
  type: 'object',
  properties: { errcode: { type: 'string' }, error: { type: 'string' } },
  required: ['errcode'],
};

export interface Recorded {
  method: string;
  path: string;
  status: number;
  body: unknown;
}

export class SpecSchemas {
  private readonly spec: Spec;
  private readonly ajv: Ajv2020;
  private readonly routes: { method: string; template: string; re: RegExp }[] = [];
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(specDir = matrixSpecDir(), bundle: 'client-server.json' | 'server-server.json' = 'client-server.json') {
    this.spec = JSON.parse(readFileSync(join(specDir, 'bundled', bundle), 'utf8')) as Spec;
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    (addFormats as unknown as (a: Ajv2020) => void)(this.ajv);
    // The spec's own identifier formats (appendices.md "Identifier Grammar"), checked loosely.
    this.ajv.addFormat('mx-user-id', /^@[^:]+:.+$/);
    this.ajv.addFormat('mx-room-id', /^![^:]+(:.+)?$/);
    this.ajv.addFormat('mx-event-id', /^\$.+$/);
    this.ajv.addFormat('mx-room-alias', /^#[^:]+:.+$/);
    this.ajv.addFormat('mx-server-name', /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9.-]{1,255})(?::\d{1,5})?$/);
    this.ajv.addFormat('mx-mxc-uri', /^mxc:\/\/[^/]+\/[^/]+$/);
    this.ajv.addFormat('org.matrix.custom.html', true);
    this.ajv.addFormat('event_id_only', true);
    for (const [template, ops] of Object.entries(this.spec.paths)) {
      const re = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]*')}$`);
      for (const method of Object.keys(ops)) this.routes.push({ method, template, re });
    }
  }

  /** The operation of a concrete request path (query string ignored), or undefined. */
  find(method: string, path: string): { template: string; op: Operation } | undefined {
    const p = decodeURI(path.split('?')[0]!);
    const m = method.toLowerCase();
    // Literal templates win over parameterised ones (`/pushrules/global/` before `{kind}`).
    const candidates = this.routes.filter((r) => r.method === m && (r.re.test(p) || r.re.test(`${p}/`)));
    candidates.sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0));
    const hit = candidates[0];
    return hit ? { template: hit.template, op: this.spec.paths[hit.template]![m]! } : undefined;
  }

  /** Problems of one response: no operation, an undocumented status, or schema errors. */
  check(r: Recorded): string[] {
    const found = this.find(r.method, r.path);
    const where = `${r.method.toUpperCase()} ${r.path.split('?')[0]} -> ${r.status}`;
    if (!found) return [`${where}: no such operation in the spec`];
    const response = found.op.responses[String(r.status)];
    let schema = response?.content?.['application/json']?.schema;
    if (!schema && r.status >= 400) schema = ERROR_SCHEMA;
    if (!response && r.status < 400) return [`${where}: status not documented for ${found.op.operationId}`];
    if (!schema) return [];
    const key = `${found.template} ${r.method} ${r.status}`;
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(schema);
      this.compiled.set(key, validate);
    }
    if (validate(r.body)) return [];
    return (validate.errors ?? []).map((e) => `${where} (${found.op.operationId}): ${e.instancePath || '(body)'} ${e.message}${e.params && 'allowedValues' in e.params ? ` ${JSON.stringify(e.params.allowedValues)}` : ''}`);
  }
}
