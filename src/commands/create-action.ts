/**
 * What `nsm create` does with its parsed command line: create the environment, then print
 * it. Shared by the commander command (create.ts) and the lean entry (src/lean-create.ts),
 * which parses the common forms without commander; `opts` uses commander's option keys.
 */
import { createEnvironment } from '../core/create.js';
import { stderrSync, stdoutSync } from '../sys/stdio.js';
import { createdJson, formatCreated, replacedWarning, stdoutStyle } from '../ui/created-view.js';
import { printJson } from '../ui/json.js';
import { environmentRequest, resolveVethArgument } from './environment-options.js';
import { namespaceRequest } from './namespace-request.js';

export async function runCreate(nameArg: string | undefined, opts: Record<string, unknown>): Promise<void> {
  const { name, veth } = resolveVethArgument(nameArg, opts.veth);
  const created = await createEnvironment(name, namespaceRequest(opts), { pin: Boolean(opts.pin), ...(veth ? { veth } : {}), ...environmentRequest(opts) });
  const warning = replacedWarning(created);
  // Written to the descriptors: process.stdout would cost create ~5 ms to set up (src/sys/stdio.ts).
  if (warning) stderrSync.write(warning);
  if (opts.json) printJson(createdJson(created), stdoutSync);
  else stdoutSync.write(formatCreated(created, await stdoutStyle()));
}
