// How fast a worker takes new journeys through their first workflow task — what bounds how soon a bulk enrolment's
// journeys are live, after Temporal has accepted their starts — against the bare SDK doing the same for a workflow
// that only starts a timer. For each: K workflows are started while no worker polls their queue; then the worker
// starts, and the clock runs until Temporal's backlog of the queue is empty and every 50th of them has completed its
// first task. Each side on a dev server of its own, in memory.
//
//   npm run bench:first-tasks                 # K = 3000
//   npm run bench:first-tasks -- --k 10000
//
// The service's journeys are started as the API and enrolments start them (the published definition, the start
// written by the API, the payloads encrypted); the worker is `npm run worker`'s, with the environment's WORKER_*
// tuning.
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { JourneyDefinition } from '../engine/definition.js';
import { dataConverterFor, newPayloadKey } from '../service/payload-codec.js';
import type { JourneyWorkflowInput } from '../workflows/journey.js';
import { BENCH_JOURNEYS, benchTemporal, cpuSeconds, load, progress, round, rssMiB, sleep, stop, tsx, workflowBacklog } from './lib.js';

const args = process.argv.slice(2);
const at = args.indexOf('--k');
const K = at >= 0 ? Number(args[at + 1]) : 3000;
if (!Number.isInteger(K) || K < 50) throw new Error('--k takes a whole number of at least 50');
const QUEUE = 'first-tasks';
const SAMPLE_EVERY = 50;

/** The box's CPU busy fraction between two readings of /proc/stat. */
const cpuTicks = () => {
  const t = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  return { idle: t[3]! + t[4]!, total: t.reduce((a, b) => a + b, 0) };
};

interface Side {
  label: string;
  worker: { file: string; env: Record<string, string> };
  client: (connection: Connection) => Client;
  start(client: Client, i: number): Promise<unknown>;
}

async function measure(side: Side) {
  const temporal = await benchTemporal();
  try {
    const connection = await Connection.connect({ address: temporal.address });
    const client = side.client(connection);
    const s0 = performance.now();
    await load(K, 64, (i) => side.start(client, i).then(() => undefined));
    progress(`${side.label}: ${K} started in ${round((performance.now() - s0) / 1000)} s with no worker polling`);
    const sample = Array.from({ length: Math.ceil(K / SAMPLE_EVERY) }, (_, i) => `ft-${i * SAMPLE_EVERY}`);
    const worker = await tsx(side.worker.file, { TEMPORAL_ADDRESS: temporal.address, TEMPORAL_TASK_QUEUE: QUEUE, ...side.worker.env }, /^READY/);
    const [w0, t0, box0, c0] = [cpuSeconds(worker.proc.pid), cpuSeconds(temporal.pid), cpuTicks(), performance.now()];
    let running = 0;
    for (;;) {
      const described = await Promise.all(sample.map((id) => client.workflow.getHandle(id).describe()));
      const done = described.filter((d) => d.historyLength >= 4).length;
      running = described.filter((d) => d.status.name === 'RUNNING').length;
      const waiting = await workflowBacklog(client, QUEUE);
      if (done === sample.length && waiting === 0) break;
      progress(`${side.label}: ${waiting} first tasks waiting; ${done}/${sample.length} of the sample done`);
      await sleep(1000);
    }
    const seconds = (performance.now() - c0) / 1000;
    const [w1, t1, box1] = [cpuSeconds(worker.proc.pid), cpuSeconds(temporal.pid), cpuTicks()];
    const result = {
      side: side.label,
      perSec: round(K / seconds),
      seconds: round(seconds),
      workerCpuMsEach: round((((w1 ?? NaN) - (w0 ?? NaN)) * 1000) / K, 2),
      temporalCpuMsEach: round((((t1 ?? NaN) - (t0 ?? NaN)) * 1000) / K, 2),
      boxBusy: round(1 - (box1.idle - box0.idle) / (box1.total - box0.total), 2),
      workerRssMiB: rssMiB(worker.proc.pid),
      sampleRunning: `${running}/${sample.length}`,
    };
    progress(`${side.label}: ${JSON.stringify(result)}`);
    await stop(worker.proc);
    return result;
  } finally {
    await temporal.stop();
  }
}

// The service's worker needs its database (it migrates it at start); one of this run's own.
const admin = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const dbName = `journeys_bench_ft_${process.pid}`;
const adminClient = new pg.Client({ connectionString: admin });
await adminClient.connect();
const databaseUrl = Object.assign(new URL(admin), { pathname: `/${dbName}` }).toString();
const key = newPayloadKey();
const idle = JourneyDefinition.parse(BENCH_JOURNEYS.find((j) => j.key === 'bench-idle'));
const results = [];
try {
  results.push(
    await measure({
      label: 'service',
      worker: { file: 'bench/worker.ts', env: { DATABASE_URL: databaseUrl, TEMPORAL_PAYLOAD_KEYS: JSON.stringify({ bench: key }), LOG_LEVEL: 'error' } },
      client: (connection) => new Client({ connection, dataConverter: dataConverterFor({ currentKeyId: 'bench', keys: { bench: Buffer.from(key, 'base64') } }) }),
      start: (client, i) => {
        const input: JourneyWorkflowInput = { definition: idle, customerId: `ft-c-${i}`, params: {}, profile: {}, startedAt: new Date().toISOString() };
        return client.workflow.start('journeyWorkflow', { taskQueue: QUEUE, workflowId: `ft-${i}`, args: [input] });
      },
    }),
  );
  results.push(
    await measure({
      label: 'bare SDK',
      worker: { file: 'bench/raw-worker.ts', env: {} },
      client: (connection) => new Client({ connection }),
      start: (client, i) => client.workflow.start('rawIdle', { taskQueue: QUEUE, workflowId: `ft-${i}` }),
    }),
  );
} finally {
  await adminClient.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await adminClient.end();
}
const [service, bare] = results as [Awaited<ReturnType<typeof measure>>, Awaited<ReturnType<typeof measure>>];
process.stdout.write(`# First workflow tasks — ${new Date().toISOString()}

${K} workflows started with no worker polling, then one worker: the time until all have completed their first task.

| | first tasks/s | worker CPU ms each | Temporal CPU ms each | box CPU busy | worker RSS MiB | sample running |
| --- | --- | --- | --- | --- | --- | --- |
${results.map((r) => `| ${r.side} | ${r.perSec} | ${r.workerCpuMsEach} | ${r.temporalCpuMsEach} | ${Math.round(r.boxBusy * 100)} % | ${r.workerRssMiB} | ${r.sampleRunning} |`).join('\n')}

The service at ${round(service.perSec / bare.perSec, 3)} of the bare SDK's rate.
`);
process.exit(0);
