import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';

/** What the image is built from: the git commit, and whether the working tree differed from it. */
export interface SourceRevision {
  /** 40 hex digits. */
  commit: string;
  /** The image tag: `git-<commit>`, or `git-<commit>-dirty-<digest of the uncommitted diff>` (tags are immutable). */
  tag: string;
  dirty: boolean;
}

export class ProvenanceError extends Error {
  override readonly name = 'ProvenanceError';
}

/** Reads the revision of the repository at `repoRoot` with git; an image must name the code it holds. */
export function sourceRevision(repoRoot: string): SourceRevision {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 }).toString();
  let commit: string;
  try {
    commit = git('rev-parse', 'HEAD').trim();
  } catch (err) {
    throw new ProvenanceError(`cannot read the git commit of ${repoRoot} (the image and every manifest record it): ${(err as Error).message.split('\n')[0]}`, {
      cause: err,
    });
  }
  const status = git('status', '--porcelain', '--untracked-files=no').trim();
  if (!status) return { commit, tag: `git-${commit}`, dirty: false };
  const diff = createHash('sha256').update(git('diff', 'HEAD')).digest('hex').slice(0, 12);
  return { commit, tag: `git-${commit}-dirty-${diff}`, dirty: true };
}
