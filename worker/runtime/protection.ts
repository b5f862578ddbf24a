import type { Logger } from './log.js';
import { recordRequest, type RequestLogSettings } from './request-log.js';

/**
 * ECS task scale-in protection while the worker holds a message, through the ECS agent's endpoint
 * (`$ECS_AGENT_URI/task-protection/v1/state`). Without ECS (the local stack) it does nothing.
 * Reference-counted: on while any message is held, off when the last one is done.
 */
export interface ScaleInProtectionOptions {
  /** Protection lapses after this many minutes unless renewed (ECS allows 1 to 2880). */
  expiresInMinutes?: number;
  /** How often a held protection is renewed; default 5 minutes before it would lapse (half its life if shorter). */
  renewEveryMs?: number;
  requestLog?: RequestLogSettings;
}

export class ScaleInProtection {
  private held = 0;
  private renewal: NodeJS.Timeout | undefined;

  /** True while a renewal is scheduled (something is held). */
  get renewing(): boolean {
    return this.renewal !== undefined;
  }
  private readonly expiresInMinutes: number;
  private readonly renewEveryMs: number;

  constructor(
    private readonly agentUri: string | undefined,
    private readonly log: Logger,
    private readonly options: ScaleInProtectionOptions = {},
  ) {
    this.expiresInMinutes = options.expiresInMinutes ?? 60;
    const lifeMs = this.expiresInMinutes * 60_000;
    this.renewEveryMs = options.renewEveryMs ?? Math.max(lifeMs - 5 * 60_000, lifeMs / 2);
  }

  async acquire(): Promise<void> {
    if (this.held++ > 0) return;
    await this.set(true);
    // A run longer than the expiry keeps its protection: renewed while anything is held.
    this.renewal = setInterval(() => void this.set(true), this.renewEveryMs);
    this.renewal.unref();
  }

  async release(): Promise<void> {
    if (this.held > 0 && --this.held === 0) {
      clearInterval(this.renewal);
      this.renewal = undefined;
      await this.set(false);
    }
  }

  private async set(enabled: boolean): Promise<void> {
    if (!this.agentUri) return;
    const body = enabled ? { ProtectionEnabled: true, ExpiresInMinutes: this.expiresInMinutes } : { ProtectionEnabled: false };
    // The agent calls ecs:UpdateTaskProtection as the task role, on the task it runs in.
    recordRequest(this.options.requestLog, {
      service: 'ecs',
      operation: 'UpdateTaskProtection',
      region: 'task',
      params: { cluster: 'this-cluster', tasks: ['this-task'] },
    });
    try {
      const res = await fetch(`${this.agentUri}/task-protection/v1/state`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(5000),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
      this.log.debug('scale-in-protection', { enabled });
    } catch (err) {
      // Losing protection only risks a redelivery (runs are idempotent), so it never fails the run.
      this.log.warn('scale-in-protection.failed', { enabled, error: err });
    }
  }
}
