import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * N worker processes with their output forwarded line by line, prefixed `[wN]`. A worker that exits is reported
 * and not restarted (a crash should be seen, as on ECS where the service would replace the task).
 */

export interface FleetOptions {
  count: number;
  /** argv of one worker, e.g. `[process.execPath, '--import', 'tsx', 'worker/main.ts']`. */
  command: string[];
  cwd: string;
  /** Environment of worker `id` (`w1`, `w2`, ...). */
  env: (id: string) => NodeJS.ProcessEnv;
  /** Receives every forwarded line, already prefixed. */
  print: (line: string) => void;
  /** Called when a worker exits while the fleet is not stopping. */
  onDeath?: (id: string, how: string) => void;
}

export interface WorkerProcess {
  id: string;
  pid: number;
  exited: Promise<string>;
  alive(): boolean;
}

export interface Fleet {
  workers: WorkerProcess[];
  /** SIGTERM to every live worker, SIGKILL to those still alive after `graceMs`. Safe to call twice. */
  stop(graceMs: number): Promise<void>;
}

/** Longest forwarded line: a TF.js wasm crash prints one line of tens of kilobytes. */
const MAX_LINE = 2000;

export function startFleet(opts: FleetOptions): Fleet {
  let stopping: Promise<void> | undefined;
  const workers = Array.from({ length: opts.count }, (_, i) => spawnWorker(`w${i + 1}`));

  function spawnWorker(id: string): WorkerProcess & { child: ChildProcess } {
    const [cmd, ...args] = opts.command;
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env(id), stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout!, child.stderr!]) {
      readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => opts.print(`[${id}] ${line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)}… (${line.length} chars)` : line}`));
    }
    let alive = true;
    const exited = new Promise<string>((resolve) => {
      child.once('error', (err) => {
        alive = false;
        resolve(`failed to start: ${err.message}`);
      });
      child.once('exit', (code, signal) => {
        alive = false;
        resolve(signal ? `killed by ${signal}` : `exited with code ${code}`);
      });
    });
    void exited.then((how) => {
      if (!stopping) {
        opts.print(`[${id}] ${how}; not restarted`);
        opts.onDeath?.(id, how);
      }
    });
    return { id, pid: child.pid ?? -1, child, exited, alive: () => alive };
  }

  const stop = (graceMs: number): Promise<void> => {
    stopping ??= (async () => {
      const live = workers.filter((w) => w.alive());
      for (const w of live) w.child.kill('SIGTERM');
      const all = Promise.all(live.map((w) => w.exited));
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
