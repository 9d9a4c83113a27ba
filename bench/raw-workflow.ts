// The ceiling's workflow: the least a Temporal workflow can do — one no-op activity — and a signal handler, so that
// signalWithStart has something to deliver to.
import { condition, defineSignal, proxyActivities, setHandler, sleep } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10 seconds' });
export const poke = defineSignal('poke');

export async function rawWorkflow(waitForPoke: boolean): Promise<void> {
  let poked = false;
  setHandler(poke, () => void (poked = true));
  await noop();
  if (waitForPoke) await condition(() => poked);
}

/** The ceiling of a journey's first workflow task (bench/first-tasks.ts): start, and wait 30 days on a timer. */
export async function rawIdle(): Promise<void> {
  await sleep('30 days');
}
