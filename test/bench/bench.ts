/**
 * `npm run bench [-- --only io,inference,whole,latency,floor,shards] [--json out.json]`: every measured figure of the README,
 * in one run on this machine (medians after warm-ups; never asserted in tests).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../helpers/paths.js';
import { runChild, runInferenceBench } from './inference-bench.js';
import { runIoBench } from './io-bench.js';
import { runLatencyBench } from './latency-bench.js';
import { runShardBench } from './shard-bench.js';
import { runWholeProcessBench } from './whole-process-bench.js';

const PARTS = ['io', 'inference', 'whole', 'latency', 'floor', 'shards'] as const;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { only: { type: 'string' }, json: { type: 'string' } }, strict: true });
  const only = values.only ? values.only.split(',') : [...PARTS];
  const unknown = only.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length) throw new Error(`--only takes ${PARTS.join(', ')}; got ${unknown.join(', ')}`);
  const results: Record<string, unknown> = {};
  if (only.includes('io')) {
    console.log('== model files, CSV in and out, memory, bounded input ==');
    results.io = await runIoBench();
  }
  if (only.includes('inference')) {
    console.log('== inference throughput (windows/s) ==');
    results.inference = await runInferenceBench();
  }
  if (only.includes('whole')) {
    console.log('\n== whole process ==');
    results.wholeProcess = await runWholeProcessBench();
  }
  if (only.includes('latency')) {
    console.log('\n== upload -> pred_url latency ==');
    results.latency = await runLatencyBench();
  }
  if (only.includes('floor')) {
    console.log('\n== the stand-ins alone (PUT -> event -> queue -> receive -> GET -> PUT, no inference) ==');
    const { stdout } = await runChild(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'test/local/stand-in-floor.ts'), '20']);
    results.standInFloor = JSON.parse(stdout.trim().split('\n').at(-1)!);
    console.log(`  ${stdout.trim()}`);
  }
  if (only.includes('shards')) {
    console.log('\n== 10,000 symbols x 40 days, sharded, 1 and 2 workers ==');
    results.shards = await runShardBench();
  }
  if (values.json) fs.writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message.slice(0, 2000) : String(err)}`);
  process.exit(1);
});
