import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * N worker processes with their output forwarded line by line, prefixed `[wN]`. A worker that exits while the fleet is
 * not stopping is reported and started again after a back-off (1 s, doubling up to 30 s), as an ECS service replaces
 * a stopped task: a crash is seen, and the fleet keeps its size.
 */

export interface FleetOptions {
  count: number;
  /** argv of one worker, e.g. `[process.execPath, '--import', 'tsx', 'worker/commands/worker.ts']`. */
  command: string[];
  cwd: string;
  /** Environment of worker `id` (`w1`, `w2`, ...). */
  env: (id: string) => NodeJS.ProcessEnv;
  /** Receives every forwarded line, already prefixed. */
  print: (line: string) => void;
  /** Called when a worker exits while the fleet is not stopping, before it is restarted. */
  onDeath?: (id: string, how: string) => void;
  /** First restart delay (default 1000 ms); it doubles for each further restart of the same slot, up to 30 s. */
  restartDelayMs?: number;
}

export interface WorkerProcess {
  id: string;
  /** The pid of the current process of this slot. */
  readonly pid: number;
  /** How many times this slot's process was started again. */
  readonly restarts: number;
  /** Resolves with how the current process ended. */
  readonly exited: Promise<string>;
  alive(): boolean;
}

export interface Fleet {
  workers: WorkerProcess[];
  /** SIGTERM to every live worker, SIGKILL to those still alive after `graceMs`. Safe to call twice. */
  stop(graceMs: number): Promise<void>;
}

/** Longest forwarded line: a TF.js wasm crash prints one line of tens of kilobytes. */
const MAX_LINE = 2000;
const MAX_RESTART_DELAY_MS = 30_000;

interface Slot extends WorkerProcess {
  child: ChildProcess;
  isAlive: boolean;
  exitedNow: Promise<string>;
  restartCount: number;
}

export function startWorkerProcesses(opts: FleetOptions): Fleet {
  let stopping: Promise<void> | undefined;
  const firstDelay = opts.restartDelayMs ?? 1000;
  const pending = new Set<AbortController>();

  const start = (slot: Slot): void => {
    const [cmd, ...args] = opts.command;
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env(slot.id), stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout!, child.stderr!]) {
      readline
        .createInterface({ input: stream, crlfDelay: Infinity })
        .on('line', (line) => opts.print(`[${slot.id}] ${line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}… (${line.length} chars)` : line}`));
    }
    slot.child = child;
    slot.isAlive = true;
    slot.exitedNow = new Promise<string>((resolve) => {
      child.once('error', (err) => {
        slot.isAlive = false;
        resolve(`failed to start: ${err.message}`);
      });
      child.once('exit', (code, signal) => {
        slot.isAlive = false;
        resolve(signal ? `killed by ${signal}` : `exited with code ${code}`);
      });
    });
    void slot.exitedNow.then(async (how) => {
      if (stopping) return;
      const delay = Math.min(MAX_RESTART_DELAY_MS, firstDelay * 2 ** slot.restartCount);
      opts.print(`[${slot.id}] ${how}; restarting in ${delay} ms`);
      opts.onDeath?.(slot.id, how);
      const wait = new AbortController();
      pending.add(wait);
      const waited = await sleep(delay, true, { signal: wait.signal }).catch(() => false);
      pending.delete(wait);
      if (!waited || stopping) return;
      slot.restartCount++;
      start(slot);
    });
  };

  const workers: Slot[] = Array.from({ length: opts.count }, (_, i) => {
    const slot = {
      id: `w${i + 1}`,
      restartCount: 0,
      isAlive: false,
      get pid() {
        return this.child.pid ?? -1;
      },
      get restarts() {
        return this.restartCount;
      },
      get exited() {
        return this.exitedNow;
      },
      alive() {
        return this.isAlive;
      },
    } as Slot;
    start(slot);
    return slot;
  });

  const stop = (graceMs: number): Promise<void> => {
    stopping ??= (async () => {
      for (const p of pending) p.abort();
      const live = workers.filter((w) => w.alive());
      for (const w of live) w.child.kill('SIGTERM');
      const all = Promise.all(live.map((w) => w.exitedNow));
      const grace = new AbortController();
      const done = await Promise.race([all.then(() => true), sleep(graceMs, false, { signal: grace.signal }).catch(() => false)]);
      grace.abort();
      if (!done) {
        for (const w of live.filter((x) => x.alive())) {
          opts.print(`[${w.id}] still running ${graceMs} ms after SIGTERM: SIGKILL`);
          w.child.kill('SIGKILL');
        }
        await all;
      }
    })();
    return stopping;
  };

  return { workers, stop };
}
