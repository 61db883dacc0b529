import { completionSpec } from '../../ui/completion.js';
import { completionScript, type Shell } from '../../ui/completion-scripts.js';
import { buildProgram } from '../program.js';

export function run([shell]: [Shell]): void {
  // Every command in full: the scripts complete them all.
  process.stdout.write(completionScript(shell, completionSpec(buildProgram())));
}
