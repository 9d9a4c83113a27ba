// The ceiling's workflow: the least a Temporal workflow can do — one no-op activity — and a signal handler, so that
// signalWithStart has something to deliver to.
import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10 seconds' });
export const poke = defineSignal('poke');

export async function rawWorkflow(waitForPoke: boolean): Promise<void> {
  let poked = false;
  setHandler(poke, () => void (poked = true));
  await noop();
  if (waitForPoke) await condition(() => poked);
}
