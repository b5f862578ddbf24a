/** `npm start`: the embedded stack, the model in service, N workers; `--once` for one upload and its run. */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT, runIfEntry, type CommandIo } from '../cli/entry.js';
import { initBackend } from '../../model/backend.js';
import { backendFromEnv, resolveModelFiles } from '../cli/model-args.js';
import { LOCAL_STACK } from '../local/constants.js';
import { DEFAULT_DATA_DIR } from '../local/stack.js';
import { runOnce, startLocal, type Running } from '../local/start.js';

/** The API's port beside the stack's (4569). */
const DEFAULT_API_PORT = 4570;

const USAGE = `usage: npm start -- [--workers N] [--fresh] [--data-dir DIR] [--port P] [--api-port P] [--no-console] [--no-api] [--once [CSV]] [--out DIR] [--timeout S]
  --workers N      worker processes (default 2)
  --fresh          delete the stack's stored objects first (<data-dir>/s3)
  --data-dir DIR   where objects and imported models are kept (default ${path.relative(process.cwd(), DEFAULT_DATA_DIR) || '.'})
  --port P         the S3 + SQS endpoint's port (default ${LOCAL_STACK.port})
  --api-port P     the REST API's and console's port (default ${DEFAULT_API_PORT}; 0 picks a free one)
  --no-console     serve the API only, no console at /
  --no-api         serve neither the API nor the console
  --once [CSV]     upload CSV (default: a synthetic BTC/LTC/XRP sample) to test_url, wait for its run, copy its files, exit
  --out DIR        where --once copies preds.csv, forecast.csv, manifest.json (default ./out)
  --timeout S      how long --once waits for the run (default 120)
  --reconcile-grace S
                   at start-up, once the queue drains, uploads with no record that are older than S seconds are
                   requeued (default 60)`;

interface Cli {
  workers: number;
  fresh: boolean;
  dataDir?: string;
  port?: number;
  apiPort: number;
  console: boolean;
  api: boolean;
  once: boolean;
  csv?: string;
  out: string;
  timeoutMs: number;
  reconcileGraceMs: number;
}

function parseCli(argv: string[]): Cli | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      workers: { type: 'string', default: '2' },
      fresh: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      port: { type: 'string' },
      'api-port': { type: 'string', default: String(DEFAULT_API_PORT) },
      console: { type: 'boolean', default: true },
      api: { type: 'boolean', default: true },
      once: { type: 'boolean', default: false },
      out: { type: 'string', default: 'out' },
      timeout: { type: 'string', default: '120' },
      'reconcile-grace': { type: 'string', default: '60' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
    allowNegative: true,
  });
  if (values.help) return 'help';
  // `--once file.csv`: parseArgs sees the file as a positional.
  if (positionals.length > (values.once ? 1 : 0)) throw new Error(`unexpected argument ${positionals.join(' ')}`);
  const int = (name: string, raw: string, min: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
    return n;
  };
  return {
    workers: int('workers', values.workers, 0),
    fresh: values.fresh,
    dataDir: values['data-dir'],
    port: values.port === undefined ? undefined : int('port', values.port, 0),
    apiPort: int('api-port', values['api-port'], 0),
    console: values.console,
    api: values.api,
    once: values.once,
    csv: positionals[0],
    out: values.out,
    timeoutMs: int('timeout', values.timeout, 1) * 1000,
    reconcileGraceMs: int('reconcile-grace', values['reconcile-grace'], 0) * 1000,
  };
}

export async function main(argv: string[], io: CommandIo): Promise<number> {
  let cli: Cli | 'help';
  try {
    cli = parseCli(argv);
  } catch (err) {
    io.err(`start: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (cli === 'help') {
    io.out(USAGE);
    return 0;
  }
  let running: Running;
  try {
    running = await startLocal({
      workers: cli.workers,
      fresh: cli.fresh,
      dataDir: cli.dataDir,
      port: cli.port,
      quiet: cli.once,
      reconcileGraceMs: cli.reconcileGraceMs,
      api: cli.api && !cli.once ? { port: cli.apiPort, console: cli.console } : false,
      env: io.env,
      print: io.out,
      // Importing the team's files runs the version's self-check, which needs a backend.
      modelFiles: async () => {
        await initBackend(backendFromEnv(io.env));
        return resolveModelFiles({}, io.env, REPO_ROOT);
      },
    });
  } catch (err) {
    io.err(`start: ${(err as Error).message.split('\n')[0]}`);
    return 1;
  }
  let signalled = false;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (signalled) return;
      signalled = true;
      io.out(`\n${signal}: stopping workers, then the stack`);
      void running.stop().then(resolve);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });

  if (!cli.once) {
    io.out(running.banner());
    await stopped;
    return 0;
  }
  let result: { exitCode: number; summary: string };
  try {
    result = await Promise.race([
      runOnce(running, { csv: cli.csv, outDir: cli.out, timeoutMs: cli.timeoutMs }),
      stopped.then(() => ({ exitCode: 130, summary: 'interrupted' })),
    ]);
  } catch (err) {
    result = { exitCode: 1, summary: `start --once: ${(err as Error).message.split('\n')[0]}` };
  }
  await running.stop();
  (result.exitCode === 0 ? io.out : io.err)(result.summary);
  return result.exitCode;
}

runIfEntry(import.meta.url, main);
