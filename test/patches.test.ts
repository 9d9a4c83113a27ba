// Patch discipline (README, "Changing the workflow"): every patch the workflow code asks about has committed histories
// of both its paths — one whose run took the patched path (its marker is in the history) and one that ran before it
// (no marker) — and test/replay.test.ts replays them all. A `patched()` added without recording them fails here.
import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';

const workflowsDir = new URL('../workflows/', import.meta.url);
const historiesDir = new URL('./histories/', import.meta.url);

/** The patch ids the workflow code asks about: string literals, or constants holding one, passed to patched() or
 * deprecatePatch(). */
async function patchIds(): Promise<{ id: string; deprecated: boolean; file: string; workflowTypes: string[] }[]> {
  const found: { id: string; deprecated: boolean; file: string; workflowTypes: string[] }[] = [];
  for (const file of (await readdir(workflowsDir)).filter((f) => f.endsWith('.ts'))) {
    const source = await readFile(new URL(file, workflowsDir), 'utf8');
    const constants = new Map([...source.matchAll(/const (\w+) = '([^']+)';/g)].map((m) => [m[1]!, m[2]!]));
    // The workflows the file defines: its patches are asked by their runs, so only their histories count.
    const workflowTypes = [...source.matchAll(/export async function (\w+)\(/g)].map((m) => m[1]!);
    for (const m of source.matchAll(/\b(patched|deprecatePatch)\(\s*(?:'([^']+)'|(\w+))\s*\)/g)) {
      const id = m[2] ?? constants.get(m[3]!);
      if (id === undefined) throw new Error(`${file}: ${m[0]} names no string this check can read; use a literal or a const`);
      if (workflowTypes.length === 0) throw new Error(`${file}: ${m[0]} is in a file that exports no workflow function this check can see`);
      found.push({ id, deprecated: m[1] === 'deprecatePatch', file, workflowTypes });
    }
  }
  return found;
}

/** The workflow type and the patch markers of each committed history. */
async function historyMarkers(): Promise<Map<string, { workflowType: string; ids: Set<string> }>> {
  const markers = new Map<string, { workflowType: string; ids: Set<string> }>();
  for (const file of (await readdir(historiesDir)).filter((f) => f.endsWith('.json'))) {
    const history = JSON.parse(await readFile(new URL(file, historiesDir), 'utf8')) as {
      events: {
        workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } };
        markerRecordedEventAttributes?: { markerName?: string; details?: Record<string, { payloads?: { data?: string }[] }> };
      }[];
    };
    const ids = new Set<string>();
    for (const e of history.events) {
      const attrs = e.markerRecordedEventAttributes;
      if (attrs?.markerName !== 'core_patch') continue;
      for (const p of attrs.details?.['patch-data']?.payloads ?? []) ids.add((JSON.parse(Buffer.from(p.data ?? '', 'base64').toString('utf8')) as { id: string }).id);
    }
    markers.set(file, { workflowType: history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '', ids });
  }
  return markers;
}

describe('patch discipline', async () => {
  const patches = await patchIds();
  const markers = await historyMarkers();

  it('finds the patches the workflow code asks about', () => {
    expect(patches.length).toBeGreaterThan(0);
  });

  it.each(patches.map((p) => [p.id, p]))('%s has a committed history of its patched path and one from before it', (_id, p) => {
    // A history of another workflow (an enrolment's, a migration's) never asks this patch: it is no history "from before".
    const own = [...markers].filter(([, h]) => p.workflowTypes.includes(h.workflowType));
    const withMarker = own.filter(([, h]) => h.ids.has(p.id)).map(([f]) => f);
    const without = own.filter(([, h]) => !h.ids.has(p.id)).map(([f]) => f);
    expect(withMarker, `no history in test/histories took the path of patch ${p.id} (${p.file}): record one (RECORD_ONLY=<prefix> npm run record-histories)`).not.toEqual([]);
    // A deprecated patch no longer has a second path to keep.
    if (!p.deprecated) expect(without, `every history took patch ${p.id}: keep one recorded before it`).not.toEqual([]);
  });
});
