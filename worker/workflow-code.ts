// Where the worker's workflow code comes from: bundled from the sources at start (development, tests), or the bundle
// `npm run build` made beforehand (production). One set of bundle options serves the build, the worker bundling at
// start and the tests, so the prebuilt bundle is the code the tests ran.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BundleOptions, WorkerOptions } from '@temporalio/worker';
import type { Config } from '../config/config.js';
import type { Logger } from '../config/logger.js';
import { failureConverterPath } from '../service/payload-codec.js';

const here = fileURLToPath(import.meta.url);

/** The workflows' entry module beside this one: the TypeScript source, or its compiled JavaScript in dist/. */
export const workflowsPath = path.resolve(path.dirname(here), '..', 'workflows', `index${path.extname(here)}`);

/** The file name of the prebuilt bundle in the build's output folder, beside the compiled `worker/` folder. */
export const WORKFLOW_BUNDLE_FILE = 'workflow-bundle.js';

/** Where a compiled worker finds the bundle `npm run build` wrote (dist/workflow-bundle.js). */
export const builtWorkflowBundle = path.resolve(path.dirname(here), '..', WORKFLOW_BUNDLE_FILE);

/** What the workflow code is bundled with: the failure converter that puts failures' messages into (encrypted)
 * payloads, as the worker's data converter has it whenever payload keys are set (always, in production). */
export const workflowBundleOptions = { workflowsPath, failureConverterPath } satisfies BundleOptions;

/** The workflow options of `Worker.create`: the prebuilt bundle when WORKFLOW_BUNDLE is set or in production (nothing
 * is bundled at start), else the sources, bundled now with the worker's own data converter. */
export function workflowCode(config: Pick<Config, 'env' | 'workflowBundle'>, logger: Logger): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  const codePath = config.workflowBundle ?? (config.env === 'production' ? builtWorkflowBundle : undefined);
  if (codePath === undefined) {
    logger.info('bundling the workflow code from its sources');
    return { workflowsPath };
  }
  if (!existsSync(codePath))
    throw new Error(`no prebuilt workflow bundle at ${codePath}: build it with \`npm run build\` and run the compiled worker (node dist/worker/main.js), or set WORKFLOW_BUNDLE`);
  logger.info({ workflowBundle: codePath }, 'using the prebuilt workflow bundle');
  return { workflowBundle: { codePath } };
}
