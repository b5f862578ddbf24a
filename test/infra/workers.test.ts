import * as pulumi from '@pulumi/pulumi';
import { expect } from 'chai';
import { MODEL_POINTER_KEY } from '../../shared/layout.js';
import { QUEUE_DEFAULTS, WORKER_ENV } from '../../shared/worker-env.js';
import { REGION, ZONES } from './mocks.js';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { changedRun, ofType, programRun, REVISION, single, type StackRun } from './fixture.js';

interface ContainerDefinition {
  name: string;
  image: string;
  essential: boolean;
  environment: Array<{ name: string; value: string }>;
  stopTimeout: number;
  linuxParameters: { initProcessEnabled: boolean };
  logConfiguration: { logDriver: string; options: Record<string, string> };
  portMappings?: unknown[];
}

const containers = (run: StackRun): ContainerDefinition[] =>
  JSON.parse(single(run.resources, 'aws:ecs/taskDefinition:TaskDefinition', 'fleet-worker-task').inputs.containerDefinitions);

describe('infra: worker image, task and service', () => {
  let run: StackRun;
  before(async () => {
    run = await programRun();
  });

  describe('image', () => {
    it("builds the repo's Dockerfile for linux/amd64 and pushes it to the stack's ECR repository", () => {
      const repository = single(run.resources, 'aws:ecr/repository:Repository');
      expect(repository.inputs.imageScanningConfiguration).to.deep.equal({ scanOnPush: true });
      const image = single(run.resources, 'docker-build:index:Image').inputs;
      expect(image).to.deep.include({ context: { location: '.' }, dockerfile: { location: './Dockerfile' }, platforms: ['linux/amd64'], push: true });
      // Tagged with the commit it is built from, labelled with it, in a repository whose tags cannot move.
      expect(image.tags).to.deep.equal([`${repository.state.repositoryUrl}:${REVISION.tag}`]);
      expect(REVISION.tag).to.match(/^git-[0-9a-f]{40}(-dirty-[0-9a-f]{12})?$/);
      expect(image.labels).to.deep.include({ 'org.opencontainers.image.revision': REVISION.commit });
      expect(image.buildArgs).to.deep.equal({ GIT_COMMIT: REVISION.commit });
      expect(repository.inputs.imageTagMutability).to.equal('IMMUTABLE');
      expect(run.outputs.image_commit).to.equal(REVISION.commit);
      // The registry credentials are a secret: they never reach the state in clear.
      expect(image.registries[pulumi.runtime.specialSigKey]).to.equal(pulumi.runtime.specialSecretSig);
      expect(image.registries.value).to.have.lengthOf(1);
      expect(image.registries.value[0]).to.include({ address: repository.state.repositoryUrl, username: 'AWS' });
      expect(run.outputs.repository_url).to.equal(repository.state.repositoryUrl);
    });

    it('expires only untagged images, so the image every manifest names stays pullable', () => {
      const lifecycle = single(run.resources, 'aws:ecr/lifecyclePolicy:LifecyclePolicy').inputs;
      expect(lifecycle.repository).to.equal(single(run.resources, 'aws:ecr/repository:Repository').state.name);
      const rules = JSON.parse(lifecycle.policy).rules;
      expect(rules).to.have.length(1);
      expect(rules[0].selection).to.deep.equal({ tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 7 });
      expect(rules[0].action).to.deep.equal({ type: 'expire' });
    });

    it('passes the commit to the image build as the OCI revision label and the worker environment (Dockerfile)', () => {
      const dockerfile = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
      expect(dockerfile).to.match(/^ARG GIT_COMMIT=unknown$/m);
      expect(dockerfile).to.match(/^LABEL org\.opencontainers\.image\.revision=\$\{GIT_COMMIT\}$/m);
      expect(dockerfile).to.match(/^ENV .*CODE_COMMIT=\$\{GIT_COMMIT\}/m);
    });
  });

  describe('task definition', () => {
    it('runs the pushed image (by digest) with the worker environment contract', () => {
      const work = single(run.resources, 'aws:sqs/queue:Queue', '-work').inputs;
      const [container, ...others] = containers(run);
      expect(others).to.be.empty;
      expect(container!.image)
        .to.equal(run.outputs.image_ref)
        .and.match(/@sha256:[0-9a-f]{64}$/);
      expect(container!.essential).to.equal(true);
      expect(container!.portMappings ?? []).to.be.empty;
      expect(Object.fromEntries(container!.environment.map((e) => [e.name, e.value]))).to.deep.equal({
        [WORKER_ENV.queueUrl]: run.outputs.queue_url,
        [WORKER_ENV.dlqUrl]: run.outputs.dlq_url,
        [WORKER_ENV.bucket]: run.outputs.bucket_name,
        [WORKER_ENV.modelPointerKey]: MODEL_POINTER_KEY,
        [WORKER_ENV.codeVersion]: run.outputs.image_ref,
        [WORKER_ENV.codeCommit]: REVISION.commit,
        [WORKER_ENV.heartbeatSeconds]: String(QUEUE_DEFAULTS.heartbeatSeconds),
        [WORKER_ENV.visibilityTimeoutSeconds]: String(work.visibilityTimeoutSeconds),
        [WORKER_ENV.waitTimeSeconds]: String(work.receiveWaitTimeSeconds),
        [WORKER_ENV.maxReceiveCount]: String(JSON.parse(work.redrivePolicy).maxReceiveCount),
        [WORKER_ENV.stopBudgetSeconds]: String(QUEUE_DEFAULTS.stopBudgetSeconds),
        AWS_REGION: REGION,
      });
    });

    it('gives the worker its graceful-shutdown time (Fargate allows at most 120 s) and an init process for signals', () => {
      const [container] = containers(run);
      expect(container!.stopTimeout).to.equal(QUEUE_DEFAULTS.ecsStopTimeoutSeconds).and.be.at.most(120);
      const env = Object.fromEntries(container!.environment.map((e) => [e.name, e.value]));
      expect(Number(env[WORKER_ENV.stopBudgetSeconds])).to.be.below(container!.stopTimeout);
      expect(QUEUE_DEFAULTS.heartbeatSeconds * 2).to.be.at.most(QUEUE_DEFAULTS.visibilityTimeoutSeconds);
      expect(container!.linuxParameters).to.deep.equal({ initProcessEnabled: true });
    });

    it('is a Fargate x86_64 task sized from the config (defaults 512 CPU units, 1024 MiB) and tells the worker maxReceiveCount', async () => {
      const task = single(run.resources, 'aws:ecs/taskDefinition:TaskDefinition', 'fleet-worker-task').inputs;
      expect(task).to.deep.include({ cpu: '512', memory: '1024', networkMode: 'awsvpc', requiresCompatibilities: ['FARGATE'] });
      expect(task.runtimePlatform).to.deep.equal({ operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' });
      const changed = single((await changedRun()).resources, 'aws:ecs/taskDefinition:TaskDefinition', 'fleet-worker-task').inputs;
      expect(changed).to.deep.include({ cpu: '1024', memory: '3072' });
      const changedEnv = JSON.parse(changed.containerDefinitions)[0].environment;
      expect(changedEnv).to.deep.include({ name: WORKER_ENV.maxReceiveCount, value: '7' });
    });

    it('logs to its own group with the configured retention', async () => {
      const group = single(run.resources, 'aws:cloudwatch/logGroup:LogGroup', 'fleet-worker-logs');
      expect(group.inputs.retentionInDays).to.equal(30);
      expect(containers(run)[0]!.logConfiguration).to.deep.equal({
        logDriver: 'awslogs',
        options: { 'awslogs-group': group.state.name, 'awslogs-region': REGION, 'awslogs-stream-prefix': 'worker' },
      });
      expect(single((await changedRun()).resources, 'aws:cloudwatch/logGroup:LogGroup', 'fleet-worker-logs').inputs.retentionInDays).to.equal(90);
    });
  });

  describe('cluster and service', () => {
    it('enables Container Insights on the cluster (its task counts drive the scaling)', () => {
      expect(single(run.resources, 'aws:ecs/cluster:Cluster', 'fleet-worker').inputs.settings).to.deep.equal([{ name: 'containerInsights', value: 'enabled' }]);
    });

    it('runs the task definition on Fargate in the cluster, starting at minWorkers and leaving the count to autoscaling', async () => {
      const service = single(run.resources, 'aws:ecs/service:Service');
      expect(service.inputs).to.deep.include({
        cluster: single(run.resources, 'aws:ecs/cluster:Cluster', 'fleet-worker').state.arn,
        taskDefinition: single(run.resources, 'aws:ecs/taskDefinition:TaskDefinition', 'fleet-worker-task').state.arn,
        launchType: 'FARGATE',
        desiredCount: 2,
      });
      expect(service.inputs.deploymentCircuitBreaker).to.deep.equal({ enable: true, rollback: true });
      // A deploy waits for steady state: a crash-looping image fails `pulumi up` (and is rolled back).
      expect(service.inputs.waitForSteadyState).to.equal(true);
      expect(service.inputs.availabilityZoneRebalancing).to.equal('ENABLED');
      const subnets = service.inputs.networkConfiguration.subnets as string[];
      const zones = subnets.map((id) => ofType(run.resources, 'aws:ec2/subnet:Subnet').find((x) => x.id === id)!.inputs.availabilityZone);
      expect(new Set(zones).size, 'subnets in two Availability Zones').to.equal(2);
      expect(service.inputs).to.not.have.property('loadBalancers');
      expect(service.ignoreChanges).to.deep.equal(['desiredCount']);
      expect(single((await changedRun()).resources, 'aws:ecs/service:Service').inputs.desiredCount).to.equal(0);
      expect(run.outputs.cluster_name).to.equal(single(run.resources, 'aws:ecs/cluster:Cluster', 'fleet-worker').state.name);
      expect(run.outputs.service_name).to.equal(service.state.name);
    });

    it("starts the service after, and stops it before, its roles' policies and the subnets' routes", () => {
      const service = single(run.resources, 'aws:ecs/service:Service');
      const needed = [
        ...ofType(run.resources, 'aws:iam/rolePolicy:RolePolicy').filter((p) => p.name.startsWith('fleet-worker-')),
        ...ofType(run.resources, 'aws:ec2/routeTableAssociation:RouteTableAssociation'),
      ];
      expect(needed).to.have.length(4);
      for (const r of needed) expect(service.dependencies, r.urn).to.include(r.urn);
    });

    it('spreads the service over public subnets in two Availability Zones, with a public IP and no NAT gateway', () => {
      const network = single(run.resources, 'aws:ecs/service:Service').inputs.networkConfiguration;
      expect(network.assignPublicIp).to.equal(true);
      const subnets = ofType(run.resources, 'aws:ec2/subnet:Subnet');
      expect(network.subnets)
        .to.have.members(subnets.map((s) => s.id))
        .and.have.lengthOf(2);
      const vpc = single(run.resources, 'aws:ec2/vpc:Vpc');
      expect(subnets.every((s) => s.inputs.vpcId === vpc.id)).to.equal(true);
      expect(single(run.resources, 'aws:ec2/securityGroup:SecurityGroup').inputs.vpcId).to.equal(vpc.id);
      const zones = subnets.map((s) => s.inputs.availabilityZone);
      expect(new Set(zones).size).to.equal(2);
      expect(ZONES).to.include.members(zones);

      const routes = single(run.resources, 'aws:ec2/routeTable:RouteTable');
      expect(routes.inputs.routes).to.deep.equal([{ cidrBlock: '0.0.0.0/0', gatewayId: single(run.resources, 'aws:ec2/internetGateway:InternetGateway').id }]);
      const associated = ofType(run.resources, 'aws:ec2/routeTableAssociation:RouteTableAssociation').map((a) => a.inputs);
      expect(associated.map((a) => a.subnetId)).to.have.members(subnets.map((s) => s.id));
      expect(associated.every((a) => a.routeTableId === routes.id)).to.equal(true);
      expect(ofType(run.resources, 'aws:ec2/natGateway:NatGateway')).to.be.empty;
      expect(ofType(run.resources, 'aws:ec2/eip:Eip')).to.be.empty;
    });

    it('admits nothing inbound: its only security group has no ingress rule, and HTTPS out', () => {
      const network = single(run.resources, 'aws:ecs/service:Service').inputs.networkConfiguration;
      const group = single(run.resources, 'aws:ec2/securityGroup:SecurityGroup');
      expect(network.securityGroups).to.deep.equal([group.id]);
      expect(group.inputs.ingress ?? []).to.be.empty;
      expect(group.inputs.egress).to.deep.equal([{ description: 'HTTPS to AWS APIs', protocol: 'tcp', fromPort: 443, toPort: 443, cidrBlocks: ['0.0.0.0/0'] }]);
      expect(ofType(run.resources, 'aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule')).to.be.empty;
      expect(ofType(run.resources, 'aws:ec2/securityGroupRule:SecurityGroupRule')).to.be.empty;
    });
  });

  describe('network and tags', () => {
    it("keeps worker traffic to S3 in the VPC through a gateway endpoint on the subnets' route table", () => {
      const endpoint = single(run.resources, 'aws:ec2/vpcEndpoint:VpcEndpoint').inputs;
      expect(endpoint).to.deep.include({
        vpcEndpointType: 'Gateway',
        serviceName: `com.amazonaws.${REGION}.s3`,
        vpcId: single(run.resources, 'aws:ec2/vpc:Vpc').id,
      });
      expect(endpoint.routeTableIds).to.deep.equal([single(run.resources, 'aws:ec2/routeTable:RouteTable').id]);
    });

    it('puts cost allocation tags on every AWS resource, through one provider with default tags', () => {
      const provider = single(run.resources, 'pulumi:providers:aws');
      // A provider's object inputs reach the engine as JSON strings.
      expect(JSON.parse(provider.inputs.defaultTags)).to.deep.equal({ tags: { project: 'crypto-open-fleet', stack: 'test', 'managed-by': 'pulumi' } });
      const aws = run.resources.filter((r) => r.custom && r.type.startsWith('aws:'));
      expect(aws.length).to.be.greaterThan(30);
      const untagged = aws.filter((r) => !r.provider.startsWith(`${provider.urn}::`)).map((r) => `${r.type} ${r.name}`);
      expect(untagged, 'AWS resources not on the tagging provider').to.deep.equal([]);
    });
  });
});
