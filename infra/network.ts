import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

export interface NetworkArgs {
  /** Availability Zones for the subnets, at least two. */
  availabilityZones: pulumi.Input<string[]>;
  region: pulumi.Input<string>;
}

const VPC_CIDR = '10.40.0.0/16';
const SUBNET_COUNT = 2;
const subnetCidr = (index: number) => `10.40.${index}.0/24`;

/**
 * A small VPC of its own (the account's default VPC may be gone or shared): two public subnets in two AZs, an
 * internet gateway and no NAT gateway. Tasks get a public IP to reach ECR, S3, SQS and CloudWatch, which keeps
 * the idle cost near zero (a NAT gateway bills by the hour); the security group admits nothing inbound.
 */
export class Network extends pulumi.ComponentResource {
  readonly vpc: aws.ec2.Vpc;
  readonly subnets: aws.ec2.Subnet[];
  readonly securityGroup: aws.ec2.SecurityGroup;
  /** The subnets' routes out: tasks need them from start to stop. */
  readonly routeAssociations: aws.ec2.RouteTableAssociation[] = [];
  readonly s3Endpoint: aws.ec2.VpcEndpoint;

  constructor(name: string, args: NetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:Network', name, {}, opts);
    const parent = { parent: this };

    this.vpc = new aws.ec2.Vpc(name, { cidrBlock: VPC_CIDR, enableDnsSupport: true, enableDnsHostnames: true }, parent);
    const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: this.vpc.id }, parent);
    const routes = new aws.ec2.RouteTable(`${name}-public`, { vpcId: this.vpc.id, routes: [{ cidrBlock: '0.0.0.0/0', gatewayId: gateway.id }] }, parent);

    const zones = pulumi.output(args.availabilityZones).apply((names) => {
      if (names.length < SUBNET_COUNT) throw new Error(`Network ${name}: need ${SUBNET_COUNT} Availability Zones, got ${names.length}`);
      return names;
    });
    this.subnets = Array.from({ length: SUBNET_COUNT }, (_, i) => {
      const subnet = new aws.ec2.Subnet(
        `${name}-public-${i}`,
        { vpcId: this.vpc.id, cidrBlock: subnetCidr(i), availabilityZone: zones[i], mapPublicIpOnLaunch: false },
        parent,
      );
      this.routeAssociations.push(new aws.ec2.RouteTableAssociation(`${name}-public-${i}`, { subnetId: subnet.id, routeTableId: routes.id }, parent));
      return subnet;
    });

    // A gateway endpoint (free): worker traffic to S3 stays in the AWS network and pays no data processing.
    this.s3Endpoint = new aws.ec2.VpcEndpoint(
      `${name}-s3`,
      { vpcId: this.vpc.id, vpcEndpointType: 'Gateway', serviceName: pulumi.interpolate`com.amazonaws.${args.region}.s3`, routeTableIds: [routes.id] },
      parent,
    );

    // Only HTTPS out: every service the worker talks to is an AWS HTTPS endpoint. DNS and the ECS agent endpoint
    // are not filtered by security groups.
    this.securityGroup = new aws.ec2.SecurityGroup(
      `${name}-workers`,
      {
        vpcId: this.vpc.id,
        description: 'Workers: no inbound access, HTTPS out',
        ingress: [],
        egress: [{ description: 'HTTPS to AWS APIs', protocol: 'tcp', fromPort: 443, toPort: 443, cidrBlocks: ['0.0.0.0/0'] }],
      },
      parent,
    );

    this.registerOutputs({ vpcId: this.vpc.id, s3EndpointId: this.s3Endpoint.id });
  }
}
