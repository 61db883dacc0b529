import { inspect } from '../../core/inspect.js';
import { inspectNamespace, isNamespaceTarget } from '../../core/inspect-namespace.js';
import { parseTarget } from '../../core/target.js';
import { inspectionJson, renderInspection } from '../../ui/inspect-view.js';
import { printJson } from '../../ui/json.js';
import { namespaceInspectionJson, renderNamespaceInspection } from '../../ui/namespace-inspect-view.js';
import type { inspectOptions } from '../inspect.js';
import type { OptionsOf } from '../spec.js';

export async function run([target]: [string], opts: OptionsOf<typeof inspectOptions>): Promise<void> {
  const spec = parseTarget(target);
  // netns:NAME, a namespace file, ns:INODE: one namespace, which may have no process in it.
  if (isNamespaceTarget(spec)) {
    const ns = await inspectNamespace(spec);
    if (opts.json) printJson(namespaceInspectionJson(ns));
    else process.stdout.write(renderNamespaceInspection(ns));
    return;
  }
  const result = await inspect(spec);
  if (opts.json) printJson(inspectionJson(result));
  else process.stdout.write(renderInspection(result));
}
