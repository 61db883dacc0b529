import { unshareRun } from '../../core/unshare.js';
import { namespaceRequest, type NamespaceOptions } from '../namespace-request.js';

export async function run([command]: [string[]], opts: NamespaceOptions): Promise<void> {
  process.exitCode = await unshareRun(namespaceRequest(opts), command);
}
