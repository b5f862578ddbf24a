import * as pulumi from '@pulumi/pulumi';
import { expect } from 'chai';
import { MODEL_POINTER_KEY } from '../../shared/layout.js';
import { QUEUE_DEFAULTS, WORKER_ENV } from '../../shared/worker-env.js';
import { REGION, ZONES } from './mocks.js';
import { changedRun, ofType, programRun, single, type StackRun } from './fixture.js';

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
  JSON.parse(single(run.resources, 'aws:ecs/taskDefinition:TaskDefinition').inputs.containerDefinitions);

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
      expect(image.tags).to.deep.equal([`${repository.state.repositoryUrl}:latest`]);
      // The registry credentials are a secret: they never reach the state in clear.
      expect(image.registries[pulumi.runtime.specialSigKey]).to.equal(pulumi.runtime.specialSecretSig);
      expect(image.registries.value).to.have.lengthOf(1);
      expect(image.registries.value[0]).to.include({ address: repository.state.repositoryUrl, username: 'AWS' });
      expect(run.outputs.repository_url).to.equal(repository.state.repositoryUrl);
    });

    it('keeps a bounded number of images in the repository', () => {
      const lifecycle = single(run.resources, 'aws:ecr/lifecyclePolicy:LifecyclePolicy').inputs;
      expect(lifecycle.repository).to.equal(single(run.resources, 'aws:ecr/repository:Repository').state.name);
      const [rule] = JSON.parse(lifecycle.policy).rules;
      expect(rule.selection).to.deep.include({ countType: 'imageCountMoreThan', countNumber: 10 });
      expect(rule.action).to.deep.equal({ type: 'expire' });
    });
  });

  describe('task definition', () => {
    it('runs the pushed image (by digest) with the worker environment contract', () => {
      const work = single(run.resources, 'aws:sqs/queue:Queue', '-work').inputs;
      const [container, ...others] = containers(run);
      expect(others).to.be.empty;
      expect(container!.image).to.equal(run.outputs.image_ref).and.match(/@sha256:[0-9a-f]{64}$/);
      expect(container!.essential).to.equal(true);
      expect(container!.portMappings ?? []).to.be.empty;
      expect(Object.fromEntries(container!.environment.map((e) => [e.name, e.value]))).to.deep.equal({
        [WORKER_ENV.queueUrl]: run.outputs.queue_url,
        [WORKER_ENV.dlqUrl]: run.outputs.dlq_url,
        [WORKER_ENV.bucket]: run.outputs.bucket_name,
        [WORKER_ENV.modelPointerKey]: MODEL_POINTER_KEY,
        [WORKER_ENV.codeVersion]: run.outputs.image_ref,
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
      const task = single(run.resources, 'aws:ecs/taskDefinition:TaskDefinition').inputs;
      expect(task).to.deep.include({ cpu: '512', memory: '1024', networkMode: 'awsvpc', requiresCompatibilities: ['FARGATE'] });
      expect(task.runtimePlatform).to.deep.equal({ operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' });
      const changed = single((await changedRun()).resources, 'aws:ecs/taskDefinition:TaskDefinition').inputs;
      expect(changed).to.deep.include({ cpu: '1024', memory: '3072' });
      const changedEnv = JSON.parse(changed.containerDefinitions)[0].environment;
      expect(changedEnv).to.deep.include({ name: WORKER_ENV.maxReceiveCount, value: '7' });
    });

    it('logs to its own group with the configured retention', async () => {
      const group = single(run.resources, 'aws:cloudwatch/logGroup:LogGroup');
      expect(group.inputs.retentionInDays).to.equal(30);
      expect(containers(run)[0]!.logConfiguration).to.deep.equal({
        logDriver: 'awslogs',
        options: { 'awslogs-group': group.state.name, 'awslogs-region': REGION, 'awslogs-stream-prefix': 'worker' },
      });
      expect(single((await changedRun()).resources, 'aws:cloudwatch/logGroup:LogGroup').inputs.retentionInDays).to.equal(90);
    });
  });

  describe('cluster and service', () => {
    it('enables Container Insights on the cluster (its task counts drive the scaling)', () => {
      expect(single(run.resources, 'aws:ecs/cluster:Cluster').inputs.settings).to.deep.equal([{ name: 'containerInsights', value: 'enabled' }]);
    });

    it('runs the task definition on Fargate in the cluster, starting at minWorkers and leaving the count to autoscaling', async () => {
      const service = single(run.resources, 'aws:ecs/service:Service');
      expect(service.inputs).to.deep.include({
        cluster: single(run.resources, 'aws:ecs/cluster:Cluster').state.arn,
        taskDefinition: single(run.resources, 'aws:ecs/taskDefinition:TaskDefinition').state.arn,
        launchType: 'FARGATE',
        desiredCount: 1,
      });
      expect(service.inputs.deploymentCircuitBreaker).to.deep.equal({ enable: true, rollback: true });
      expect(service.inputs).to.not.have.property('loadBalancers');
      expect(service.ignoreChanges).to.deep.equal(['desiredCount']);
      expect(single((await changedRun()).resources, 'aws:ecs/service:Service').inputs.desiredCount).to.equal(0);
      expect(run.outputs.cluster_name).to.equal(single(run.resources, 'aws:ecs/cluster:Cluster').state.name);
      expect(run.outputs.service_name).to.equal(service.state.name);
    });

    it('starts the service after, and stops it before, its roles\' policies and the subnets\' routes', () => {
      const service = single(run.resources, 'aws:ecs/service:Service');
      const needed = [...ofType(run.resources, 'aws:iam/rolePolicy:RolePolicy'), ...ofType(run.resources, 'aws:ec2/routeTableAssociation:RouteTableAssociation')];
      expect(needed).to.have.length(4);
      for (const r of needed) expect(service.dependencies, r.urn).to.include(r.urn);
    });

    it('spreads the service over public subnets in two Availability Zones, with a public IP and no NAT gateway', () => {
      const network = single(run.resources, 'aws:ecs/service:Service').inputs.networkConfiguration;
      expect(network.assignPublicIp).to.equal(true);
      const subnets = ofType(run.resources, 'aws:ec2/subnet:Subnet');
      expect(network.subnets).to.have.members(subnets.map((s) => s.id)).and.have.lengthOf(2);
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
});
