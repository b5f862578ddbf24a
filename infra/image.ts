import * as aws from '@pulumi/aws';
import * as dockerBuild from '@pulumi/docker-build';
import * as pulumi from '@pulumi/pulumi';

export interface WorkerImageArgs {
  /** Docker build context (the repository root, holding `Dockerfile`), relative to the program's working directory. */
  context: string;
  forceDestroy: boolean;
}

const KEEP_IMAGES = 10;

/** The ECR repository and the worker image built from the repo's `Dockerfile` and pushed to it. */
export class WorkerImage extends pulumi.ComponentResource {
  readonly repository: aws.ecr.Repository;
  /** `<repository>:<tag>@sha256:<digest>`: a new build always yields a new task definition revision. */
  readonly ref: pulumi.Output<string>;

  constructor(name: string, args: WorkerImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:WorkerImage', name, {}, opts);
    const parent = { parent: this };

    this.repository = new aws.ecr.Repository(
      name,
      { forceDelete: args.forceDestroy, imageScanningConfiguration: { scanOnPush: true }, imageTagMutability: 'MUTABLE' },
      parent,
    );
    new aws.ecr.LifecyclePolicy(
      `${name}-keep-recent`,
      {
        repository: this.repository.name,
        policy: pulumi.jsonStringify({
          rules: [
            {
              rulePriority: 1,
              description: `keep the ${KEEP_IMAGES} most recent images`,
              selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: KEEP_IMAGES },
              action: { type: 'expire' },
            },
          ],
        }),
      },
      parent,
    );

    const token = aws.ecr.getAuthorizationTokenOutput({ registryId: this.repository.registryId }, parent);
    const image = new dockerBuild.Image(
      name,
      {
        context: { location: args.context },
        dockerfile: { location: `${args.context}/Dockerfile` },
        // Fargate runs the task as X86_64; tfjs-node ships its native library for linux x64.
        platforms: [dockerBuild.Platform.Linux_amd64],
        push: true,
        tags: [pulumi.interpolate`${this.repository.repositoryUrl}:latest`],
        registries: [
          { address: this.repository.repositoryUrl, username: token.userName, password: pulumi.secret(token.password) },
        ],
      },
      parent,
    );
    this.ref = image.ref;

    this.registerOutputs({ repositoryUrl: this.repository.repositoryUrl, ref: this.ref });
  }
}
