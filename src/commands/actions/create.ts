import { createEnvironment } from '../../core/create.js';
import { fallbackNote } from '../../core/user-net.js';
import { stderrSync, stdoutSync } from '../../sys/stdio.js';
import { createdJson, formatCreated, replacedWarning, stdoutStyle } from '../../ui/created-view.js';
import { printJson } from '../../ui/json.js';
import type { createOptions } from '../create.js';
import { environmentRequest, resolveVethArgument } from '../environment-options.js';
import { namespaceRequest } from '../namespace-request.js';
import type { OptionsOf } from '../spec.js';

export async function run([nameArg]: [string | undefined], opts: OptionsOf<typeof createOptions>): Promise<void> {
  const { name, veth } = resolveVethArgument(nameArg, opts.veth);
  const request = environmentRequest(opts);
  const note = fallbackNote(request.userNet?.mode);
  if (note) stderrSync.write(note);
  const created = await createEnvironment(name, namespaceRequest(opts), { pin: Boolean(opts.pin), ...(veth ? { veth } : {}), ...request });
  const warning = replacedWarning(created);
  // Written to the descriptors: process.stdout would load node:stream (src/sys/stdio.ts).
  if (warning) stderrSync.write(warning);
  if (opts.json) printJson(createdJson(created), stdoutSync);
  else stdoutSync.write(formatCreated(created, await stdoutStyle()));
}
