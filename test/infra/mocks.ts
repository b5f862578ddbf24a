import * as pulumi from '@pulumi/pulumi';

export const PROJECT = 'crypto-open-fleet';
export const STACK = 'test';
export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';
export const ZONES = [`${REGION}a`, `${REGION}b`, `${REGION}c`];

/** One resource as the program registered it with the engine. */
export interface Recorded {
  type: string;
  name: string;
  urn: string;
  /** The physical id the mocked provider answered. */
  id: string;
  custom: boolean;
  inputs: Record<string, any>;
  /** The outputs the mocked provider answered (ARNs, URLs, names). */
  state: Record<string, any>;
  /** The provider reference (`<urn>::<id>`) it was registered with; empty for the default provider. */
  provider: string;
  /** URNs of every resource it depends on: through its inputs and through `dependsOn`. */
  dependencies: string[];
  ignoreChanges: string[];
}

export interface MockedRun<T> {
  resources: Recorded[];
  outputs: T;
}

/** What the mocked provider answers: the outputs AWS would fill in, derived from the logical name. */
function mockState(type: string, name: string, inputs: Record<string, any>): { id: string; state: Record<string, any> } {
  const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
  switch (type) {
    case 'aws:s3/bucket:Bucket': {
      const bucket = `${name}-20240101abcdef`;
      return { id: bucket, state: { ...inputs, bucket, arn: `arn:aws:s3:::${bucket}` } };
    }
    case 'aws:sqs/queue:Queue': {
      const url = `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/${name}`;
      return { id: url, state: { ...inputs, name, url, arn: arn('sqs', name) } };
    }
    case 'aws:ecs/taskDefinition:TaskDefinition':
      return { id: name, state: { ...inputs, arn: arn('ecs', `task-definition/${inputs.family}:1`), revision: 1 } };
    case 'aws:ecs/cluster:Cluster':
      return { id: name, state: { ...inputs, name, arn: arn('ecs', `cluster/${name}`) } };
    case 'aws:ecr/repository:Repository':
      return {
        id: name,
        state: {
          ...inputs,
          name,
          arn: arn('ecr', `repository/${name}`),
          registryId: ACCOUNT,
          repositoryUrl: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${name}`,
        },
      };
    case 'docker-build:index:Image': {
      const digest = `sha256:${'ab'.repeat(32)}`;
      return { id: name, state: { ...inputs, digest, ref: `${inputs.tags[0]}@${digest}` } };
    }
    case 'aws:cloudwatch/logGroup:LogGroup':
      return { id: name, state: { ...inputs, name, arn: arn('logs', `log-group:${name}`) } };
    case 'aws:iam/role:Role':
      return { id: name, state: { ...inputs, name, arn: `arn:aws:iam::${ACCOUNT}:role/${name}` } };
    case 'aws:apigatewayv2/api:Api': {
      const id = `api${name.length}mock`;
      return {
        id,
        state: {
          ...inputs,
          name,
          arn: `arn:aws:apigateway:${REGION}::/apis/${id}`,
          apiEndpoint: `https://${id}.execute-api.${REGION}.amazonaws.com`,
          executionArn: arn('execute-api', id),
        },
      };
    }
    case 'aws:iam/policy:Policy':
      return { id: name, state: { ...inputs, name, arn: `arn:aws:iam::${ACCOUNT}:policy/${name}` } };
    default:
      return { id: `${name}-id`, state: { ...inputs, name: inputs.name ?? name, arn: inputs.arn ?? arn('mock', `${type}/${name}`) } };
  }
}

function callResult(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult {
  switch (args.token) {
    case 'aws:index/getCallerIdentity:getCallerIdentity':
      return { accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/ci`, userId: 'AIDAMOCK', id: ACCOUNT };
    case 'aws:index/getRegion:getRegion':
      return { name: REGION, region: REGION, id: REGION, description: 'mock', endpoint: `ec2.${REGION}.amazonaws.com` };
    case 'aws:index/getAvailabilityZones:getAvailabilityZones':
      return { names: ZONES, zoneIds: ZONES.map((_, i) => `euw1-az${i + 1}`), groupNames: [REGION], id: REGION, region: REGION };
    case 'aws:ecr/getAuthorizationToken:getAuthorizationToken':
      return {
        userName: 'AWS',
        password: 'mock-password',
        authorizationToken: 'mock',
        proxyEndpoint: `https://${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`,
        expiresAt: '',
        id: ACCOUNT,
        region: REGION,
      };
    default:
      throw new Error(`no mock for the call ${args.token}`);
  }
}

/** The monitor's request object, as far as the recorder reads it. */
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getCustom(): boolean;
  getDependenciesList(): string[];
  getIgnorechangesList(): string[];
  getProvider(): string;
}
interface MockMonitorLike {
  registerResource(req: RegisterRequest, callback: (err: unknown, res?: { getUrn(): string }) => void): Promise<void>;
}

/**
 * Runs a Pulumi program under mocks with the given project config (`key` without the project prefix), waits for
 * every registration, and returns what the engine would have been asked to create plus the program's outputs.
 */
export async function runMocked<T>(config: Record<string, string>, program: () => T | Promise<T>): Promise<MockedRun<Awaited<T>>> {
  const resources: Recorded[] = [];
  const answered = new Map<string, { id: string; inputs: Record<string, any>; state: Record<string, any> }>();
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        const result = mockState(args.type, args.name, args.inputs);
        answered.set(`${args.type}::${args.name}`, { id: result.id, inputs: args.inputs, state: result.state });
        return result;
      },
      call: callResult,
    },
    PROJECT,
    STACK,
    false,
  );
  pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [`${PROJECT}:${k}`, v])), []);

  // Dependencies and ignoreChanges reach the engine in the registration request, not in the mock's arguments.
  const monitor = pulumi.runtime.getMonitor() as unknown as MockMonitorLike;
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, callback) =>
    register(req, (err, res) => {
      if (!err && res) {
        resources.push({
          type: req.getType(),
          name: req.getName(),
          urn: res.getUrn(),
          custom: req.getCustom(),
          ...(answered.get(`${req.getType()}::${req.getName()}`) ?? { id: '', inputs: {}, state: {} }),
          provider: req.getProvider(),
          dependencies: req.getDependenciesList(),
          ignoreChanges: req.getIgnorechangesList(),
        });
      }
      callback(err, res);
    });

  const outputs = await program();
  await pulumi.runtime.disconnect();
  return { resources, outputs };
}

/** The value of an output (or of a record of outputs) once the mocked engine has resolved it. */
export function resolve<T>(value: pulumi.Input<T>): Promise<T> {
  return new Promise((done) => pulumi.output(value).apply((v) => done(v as T)));
}

export async function resolveAll<T extends Record<string, pulumi.Input<unknown>>>(record: T): Promise<{ [K in keyof T]: pulumi.Unwrap<T[K]> }> {
  const entries = await Promise.all(Object.entries(record).map(async ([k, v]) => [k, await resolve(v)] as const));
  return Object.fromEntries(entries) as { [K in keyof T]: pulumi.Unwrap<T[K]> };
}
