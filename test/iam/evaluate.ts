import {
  getDenialReasons,
  getGrantReasons,
  runSimulation,
  type EvaluationResult,
  type RequestDenial,
  type RequestGrant,
  type Simulation,
} from '@cloud-copilot/iam-simulate';
import { requirementsFor, type Requirement, type Target } from './actions.js';
import type { RecordedRequest } from '../../worker/runtime/request-log.js';

/** A policy document as the Pulumi program produces it (a JSON string), with a name for the messages. */
export interface NamedPolicy {
  name: string;
  json: string;
}

/** A principal the requests are made as, with every identity policy attached to it. */
export interface DeclaredPrincipal {
  /** The label the request log uses ('worker', 'team', ...). */
  label: string;
  /** A role or user ARN (`arn:aws:iam::<account>:role/<name>`), or a service principal (`s3.amazonaws.com`, no identity policies). */
  arn: string;
  policies: NamedPolicy[];
}

/** A resource policy and what it is attached to: a bucket's ARN (it covers the bucket's objects), a queue's ARN. */
export interface ResourcePolicy extends NamedPolicy {
  resourceArn: string;
}

export interface Declared {
  principals: DeclaredPrincipal[];
  resourcePolicies: ResourcePolicy[];
  target: Target;
}

export interface Decision {
  request: RecordedRequest;
  requirement: Requirement;
  result: EvaluationResult;
  allowed: boolean;
  /** Which statement decided, or why none did. */
  reason: string;
  /** One line for a test failure: decision, principal, operation, action, resource, reason. */
  line: string;
}

export interface EvaluateOptions {
  /** The value of `aws:SecureTransport`: the SDK always uses TLS against AWS. Default true. */
  secureTransport?: boolean;
}

export class EvaluationError extends Error {
  override readonly name = 'EvaluationError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

function parsePolicy(p: NamedPolicy, kind: string): unknown {
  try {
    const doc = JSON.parse(p.json) as unknown;
    if (typeof doc !== 'object' || doc === null || !('Statement' in doc)) throw new Error('no Statement');
    return doc;
  } catch (err) {
    throw new EvaluationError(`${kind} '${p.name}' is not a policy document: ${(err as Error).message}`, { cause: err });
  }
}

const accountOfArn = (arn: string): string | undefined => arn.split(':')[4] || undefined;

/** An S3 object or bucket ARN -> the bucket's ARN; any other ARN is its own. */
function policyTargetOf(resource: string): string {
  if (resource.startsWith('arn:aws:s3:::')) return `arn:aws:s3:::${resource.slice('arn:aws:s3:::'.length).split('/')[0]}`;
  return resource;
}

function describeRequest(r: RecordedRequest): string {
  const p = r.params;
  if (r.service === 's3' && p.bucket)
    return `s3://${p.bucket}/${p.key ?? (p.prefix !== undefined ? `${p.prefix}*` : '')}${p.versionId ? `?versionId=${p.versionId}` : ''}`;
  if (p.queueUrl) return p.queueUrl;
  return JSON.stringify(p);
}

function grantText(g: RequestGrant, resourceName: string): string {
  const stmt = g.statementId ? `statement ${g.statementId}` : `statement #${g.statementIndex}`;
  if (g.policyType === 'resource') return `${resourceName} ${stmt}`;
  if (g.policyType === 'identity') return `identity policy '${g.policyIdentifier}' ${stmt}`;
  return `${g.policyType} policy '${g.policyIdentifier}' ${stmt}`;
}

function denialText(d: RequestDenial, resourceName: string): string {
  if (d.denialType === 'Explicit') {
    const stmt = d.statementId ? `statement ${d.statementId}` : `statement #${d.statementIndex}`;
    return d.policyType === 'resource' ? `explicit Deny in ${resourceName} ${stmt}` : `explicit Deny in ${d.policyType} policy '${d.policyIdentifier}' ${stmt}`;
  }
  return '';
}

/**
 * Evaluates every requirement of every request against the declared policies, with iam-simulate (Strict mode:
 * a condition on a key the request does not carry does not match).
 */
export async function evaluateRequests(requests: readonly RecordedRequest[], declared: Declared, options: EvaluateOptions = {}): Promise<Decision[]> {
  const principals = new Map(
    declared.principals.map((p) => [p.label, { ...p, docs: p.policies.map((x) => ({ name: x.name, policy: parsePolicy(x, 'identity policy') })) }]),
  );
  const resourcePolicies = new Map(declared.resourcePolicies.map((p) => [p.resourceArn, { name: p.name, policy: parsePolicy(p, 'resource policy') }]));
  const secure = String(options.secureTransport ?? true);
  const decisions: Decision[] = [];

  for (const request of requests) {
    const principal = principals.get(request.principal);
    if (!principal) {
      throw new EvaluationError(
        `request ${request.service}:${request.operation} by '${request.principal}': no such principal declared (declared: ${[...principals.keys()].join(', ') || 'none'})`,
      );
    }
    for (const requirement of requirementsFor(request, declared.target)) {
      const resourcePolicy = resourcePolicies.get(policyTargetOf(requirement.resource));
      const resourceAccount =
        requirement.resource === '*' || requirement.resource.startsWith('arn:aws:s3:::')
          ? declared.target.accountId
          : (accountOfArn(requirement.resource) ?? declared.target.accountId);
      const simulation: Simulation = {
        request: {
          principal: principal.arn,
          action: requirement.action,
          resource: { resource: requirement.resource, accountId: resourceAccount },
          contextVariables: { 'aws:SecureTransport': secure, ...request.context, ...requirement.context },
        },
        identityPolicies: principal.docs,
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        ...(resourcePolicy ? { resourcePolicy: resourcePolicy.policy } : {}),
      };
      const what = `${request.service}:${request.operation} by '${request.principal}' (${requirement.action} on ${requirement.resource})`;
      const response = await runSimulation(simulation, { simulationMode: 'Strict' });
      if (response.resultType === 'error') throw new EvaluationError(`${what}: iam-simulate refused the input: ${JSON.stringify(response.errors)}`);
      // '*' (PutMetricData, whose resource type is optional) comes back as a wildcard result: one simulation per
      // resource pattern the policies name, and an overall result over them.
      if (response.resultType === 'wildcard' && requirement.resource !== '*') {
        throw new EvaluationError(`${what}: a wildcard resource ran ${response.results.length} simulations; requirements must name one resource`);
      }
      const results = response.resultType === 'single' ? [response.result] : response.results;
      // An implicitly denied wildcard pattern returns no simulation at all: nothing allows '*'.
      const decisive = results.find((x) => x.analysis.result === response.overallResult);
      if (!decisive && response.overallResult !== 'ImplicitlyDenied')
        throw new EvaluationError(`${what}: iam-simulate returned no simulation for ${response.overallResult}`);
      const ignoredContextKeys = [...new Set(results.flatMap((x) => x.ignoredContextKeys ?? []))];
      // A key the action does not know is dropped by iam-simulate, which would silently weaken a Condition.
      if (ignoredContextKeys.length)
        throw new EvaluationError(`${what}: iam-simulate ignored context keys ${ignoredContextKeys.join(', ')}: not condition keys of ${requirement.action}`);

      const result = response.overallResult;
      const resourceName = resourcePolicy ? `resource policy '${resourcePolicy.name}'` : 'no resource policy';
      let reason: string;
      if (result === 'Allowed') {
        const grants = getGrantReasons(decisive!.analysis).map((g) => grantText(g, resourceName));
        reason = grants.length ? `allowed by ${grants.join(' and ')}` : `allowed without a grant (${requirement.why ?? 'the service needs none'})`;
      } else if (result === 'ExplicitlyDenied') {
        reason = getDenialReasons(decisive!.analysis)
          .filter((d) => d.denialType === 'Explicit')
          .map((d) => denialText(d, resourceName))
          .join('; ');
      } else {
        const identity = principal.policies.map((p) => `'${p.name}'`).join(', ') || 'none';
        reason = `no statement allows it (identity policies: ${identity}; ${resourceName})`;
      }
      const verdict = result === 'Allowed' ? 'ALLOWED' : 'DENIED';
      const why = requirement.why ? ` [${requirement.why}]` : '';
      const line = `${verdict} ${request.principal} ${request.operation} ${describeRequest(request)}: needs ${requirement.action} on ${requirement.resource}${why}: ${reason}`;
      decisions.push({ request, requirement, result, allowed: result === 'Allowed', reason, line });
    }
  }
  return decisions;
}

/** The lines of the decisions that were denied: what a test prints when it fails. */
export function deniedLines(decisions: readonly Decision[]): string[] {
  return decisions.filter((d) => !d.allowed).map((d) => d.line);
}
