import type { Logger } from './log.js';

/**
 * ECS task scale-in protection while the worker holds a message, through the ECS agent's endpoint
 * (`$ECS_AGENT_URI/task-protection/v1/state`). Without ECS (the local stack) it does nothing.
 * Reference-counted: on while any message is held, off when the last one is done.
 */
export class ScaleInProtection {
  private held = 0;

  constructor(
    private readonly agentUri: string | undefined,
    private readonly log: Logger,
    private readonly expiresInMinutes = 60,
  ) {}

  async acquire(): Promise<void> {
    if (this.held++ === 0) await this.set(true);
  }

  async release(): Promise<void> {
    if (this.held > 0 && --this.held === 0) await this.set(false);
  }

  private async set(enabled: boolean): Promise<void> {
    if (!this.agentUri) return;
    const body = enabled ? { ProtectionEnabled: true, ExpiresInMinutes: this.expiresInMinutes } : { ProtectionEnabled: false };
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
