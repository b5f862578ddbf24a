import { queueFromUrl } from './actions.js';
import type { DeclaredPrincipal, NamedPolicy, ResourcePolicy } from './evaluate.js';

/** One resource as the Pulumi mocks recorded it (test/infra/mocks.ts `Recorded`, the fields read here). */
export interface RecordedResource {
  type: string;
  name: string;
  id: string;
  inputs: Record<string, any>;
  state: Record<string, any>;
}

export interface ProgramPolicies {
  /** role logical name -> the role's ARN and every policy attached to it (inline, RolePolicy, attachments). */
  roles: Map<string, { arn: string; policies: NamedPolicy[] }>;
  /** managed policy logical name -> its ARN and document (the team's, an operator's). */
  managedPolicies: Map<string, { arn: string; policy: NamedPolicy }>;
  resourcePolicies: ResourcePolicy[];
}

export class ProgramPolicyError extends Error {
  override readonly name = 'ProgramPolicyError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const TYPE = {
  role: 'aws:iam/role:Role',
  rolePolicy: 'aws:iam/rolePolicy:RolePolicy',
  attachment: 'aws:iam/rolePolicyAttachment:RolePolicyAttachment',
  policy: 'aws:iam/policy:Policy',
  bucket: 'aws:s3/bucket:Bucket',
  bucketPolicy: 'aws:s3/bucketPolicy:BucketPolicy',
  queue: 'aws:sqs/queue:Queue',
  queuePolicy: 'aws:sqs/queuePolicy:QueuePolicy',
} as const;

function policyString(r: RecordedResource, field: string): string {
  const v = r.inputs[field];
  if (typeof v !== 'string') throw new ProgramPolicyError(`${r.type} ${r.name}: input '${field}' is not a resolved JSON string (got ${typeof v})`);
  return v;
}

/**
 * Every policy the program declares, from the resources the mocked engine recorded: their inputs are the
 * resolved values (the `policyJson` outputs are JSON strings by then), their state holds the mocked ARNs/URLs.
 * Fails on a policy it cannot resolve (an AWS-managed policy attached by ARN), so nothing is silently dropped.
 */
export function programPolicies(resources: readonly RecordedResource[]): ProgramPolicies {
  const of = (type: string) => resources.filter((r) => r.type === type);
  const roles = new Map<string, { arn: string; policies: NamedPolicy[] }>();
  const roleByRef = new Map<string, { arn: string; policies: NamedPolicy[] }>();
  for (const r of of(TYPE.role)) {
    const entry = { arn: String(r.state.arn), policies: [] as NamedPolicy[] };
    for (const inline of (r.inputs.inlinePolicies ?? []) as { name?: string; policy?: string }[]) {
      if (inline.policy) entry.policies.push({ name: `${r.name}/${inline.name ?? 'inline'}`, json: inline.policy });
    }
    roles.set(r.name, entry);
    // A RolePolicy/attachment names its role by id (the role's name) or ARN.
    for (const ref of [r.id, r.state.name, r.state.arn]) if (typeof ref === 'string') roleByRef.set(ref, entry);
  }
  const roleFor = (r: RecordedResource) => {
    const role = roleByRef.get(String(r.inputs.role));
    if (!role) throw new ProgramPolicyError(`${r.type} ${r.name}: its role ${JSON.stringify(r.inputs.role)} is not a role of the program`);
    return role;
  };

  const managedPolicies = new Map<string, { arn: string; policy: NamedPolicy }>();
  for (const p of of(TYPE.policy)) managedPolicies.set(p.name, { arn: String(p.state.arn), policy: { name: p.name, json: policyString(p, 'policy') } });
  const managedByArn = new Map([...managedPolicies.values()].map((m) => [m.arn, m.policy]));

  for (const rp of of(TYPE.rolePolicy)) roleFor(rp).policies.push({ name: rp.name, json: policyString(rp, 'policy') });
  for (const a of of(TYPE.attachment)) {
    const policy = managedByArn.get(String(a.inputs.policyArn));
    if (!policy)
      throw new ProgramPolicyError(
        `${a.type} ${a.name}: policy ${a.inputs.policyArn} is not declared by the program (an AWS-managed policy?): its document cannot be evaluated`,
      );
    roleFor(a).policies.push(policy);
  }

  const resourcePolicies: ResourcePolicy[] = [];
  const buckets = of(TYPE.bucket);
  for (const bp of of(TYPE.bucketPolicy)) {
    const bucket = buckets.find((b) => b.id === bp.inputs.bucket || b.state.bucket === bp.inputs.bucket);
    if (!bucket) throw new ProgramPolicyError(`${bp.type} ${bp.name}: bucket ${JSON.stringify(bp.inputs.bucket)} is not a bucket of the program`);
    resourcePolicies.push({ name: bp.name, resourceArn: String(bucket.state.arn), json: policyString(bp, 'policy') });
  }
  const queues = of(TYPE.queue);
  for (const qp of of(TYPE.queuePolicy)) {
    const queue = queues.find((q) => q.state.url === qp.inputs.queueUrl);
    const arn = queue ? String(queue.state.arn) : queueFromUrl(String(qp.inputs.queueUrl), 'unknown-region').arn;
    resourcePolicies.push({ name: qp.name, resourceArn: arn, json: policyString(qp, 'policy') });
  }
  return { roles, managedPolicies, resourcePolicies };
}

/** The principal that runs as the program's role whose logical name ends with `ending` (exactly one). */
export function rolePrincipal(policies: ProgramPolicies, label: string, ending: string): DeclaredPrincipal {
  const found = [...policies.roles.entries()].filter(([name]) => name.endsWith(ending));
  if (found.length !== 1)
    throw new ProgramPolicyError(`principal '${label}': ${found.length} roles named *${ending} (roles: ${[...policies.roles.keys()].join(', ')})`);
  const [, role] = found[0]!;
  return { label, arn: role.arn, policies: role.policies };
}

/** A principal outside the program (the team's own identity) holding one of its managed policies. */
export function managedPolicyPrincipal(policies: ProgramPolicies, label: string, policyName: string, arn: string): DeclaredPrincipal {
  const managed = policies.managedPolicies.get(policyName);
  if (!managed)
    throw new ProgramPolicyError(`principal '${label}': no managed policy '${policyName}' (policies: ${[...policies.managedPolicies.keys()].join(', ')})`);
  return { label, arn, policies: [managed.policy] };
}
