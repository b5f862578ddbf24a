import * as aws from '@pulumi/aws';
import * as dockerBuild from '@pulumi/docker-build';
import * as pulumi from '@pulumi/pulumi';
import type { SourceRevision } from './provenance.js';

export interface WorkerImageArgs {
  /** Docker build context (the repository root, holding `Dockerfile`), relative to the program's working directory. */
  context: string;
  forceDestroy: boolean;
  /** The git revision built: the image's tag and its OCI revision label. */
  revision: SourceRevision;
}

/** Untagged images (an interrupted push, a replaced build) go after this many days; tagged ones never do. */
const UNTAGGED_DAYS = 7;

/** The ECR repository and the worker image built from the repo's `Dockerfile` and pushed to it. */
export class WorkerImage extends pulumi.ComponentResource {
  readonly repository: aws.ecr.Repository;
  /** `<repository>:<tag>@sha256:<digest>`: a new build always yields a new task definition revision. */
  readonly ref: pulumi.Output<string>;
  /** `sha256:<digest>` of the pushed image. */
  readonly digest: pulumi.Output<string>;

  constructor(name: string, args: WorkerImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:WorkerImage', name, {}, opts);
    const parent = { parent: this };

    this.repository = new aws.ecr.Repository(
      name,
      // Immutable tags: `git-<commit>` always names the image a manifest recorded.
      { forceDelete: args.forceDestroy, imageScanningConfiguration: { scanOnPush: true }, imageTagMutability: 'IMMUTABLE' },
      parent,
    );
    new aws.ecr.LifecyclePolicy(
      `${name}-keep-recent`,
      {
        repository: this.repository.name,
        policy: pulumi.jsonStringify({
          rules: [
            {
              // Every manifest names its image by tag and digest: tagged images are kept, so old runs stay resolvable.
              rulePriority: 1,
              description: `expire untagged images after ${UNTAGGED_DAYS} days; tagged images are kept`,
              selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: UNTAGGED_DAYS },
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
        tags: [pulumi.interpolate`${this.repository.repositoryUrl}:${args.revision.tag}`],
        buildArgs: { GIT_COMMIT: args.revision.commit },
        labels: { 'org.opencontainers.image.revision': args.revision.commit, 'org.opencontainers.image.source': 'crypto-open-fleet' },
        registries: [{ address: this.repository.repositoryUrl, username: token.userName, password: pulumi.secret(token.password) }],
      },
      parent,
    );
    this.ref = image.ref;
    this.digest = image.digest;

    this.registerOutputs({ repositoryUrl: this.repository.repositoryUrl, ref: this.ref });
  }
}
