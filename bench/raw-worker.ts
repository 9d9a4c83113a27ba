// A minimal worker for the ceiling: same server, same task-queue setup, nothing of ours in the path.
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';

const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
const worker = await Worker.create({
  connection,
  taskQueue: process.env.TEMPORAL_TASK_QUEUE!,
  workflowsPath: fileURLToPath(new URL('./raw-workflow.ts', import.meta.url)),
  activities: { noop: async () => undefined },
});
process.stdout.write('READY\n');
await worker.run();
await connection.close();
