import { spawnSync } from 'node:child_process';
import { parseTarget } from '../../core/target.js';
import { parseWhySpec, specText, stillThere, usernsLimits, why, type WhyReport } from '../../core/why.js';
import { NsmError, UsageError } from '../../sys/errors.js';
import { printJson } from '../../ui/json.js';
import { renderUsernsLimits, renderWhy } from '../../ui/why-view.js';
import type { OptionsOf } from '../spec.js';
import type { whyOptions } from '../why.js';

export async function run([ns]: [string | undefined], opts: OptionsOf<typeof whyOptions>): Promise<void> {
  if (opts.usernsLimit) {
    if (ns !== undefined) throw new UsageError('--userns-limit takes no namespace');
    const limits = await usernsLimits();
    if (opts.json) printJson(limits);
    else process.stdout.write(renderUsernsLimits(limits));
    return;
  }
  if (ns === undefined) throw new UsageError('which namespace? nsm why INODE|ns:INODE|nsid:ID|PID -t TYPE');
  const spec = parseWhySpec(ns, opts.type, parseTarget);
  const report = await why(spec);
  if (!opts.release) {
    if (opts.json) printJson(report);
    else process.stdout.write(renderWhy(report));
    return;
  }
  if (report.refusal) throw new NsmError(`refusing to release ${specText(spec)}: ${report.refusal}`);
  if (!opts.yes && !process.stdin.isTTY) throw new UsageError('--release without a terminal needs --yes');
  if (!opts.json) process.stdout.write(renderWhy(report));
  if (!opts.yes && !(await confirm(`run these ${report.plan.length} commands? [y/N] `))) throw new NsmError('not released');
  const results = release(report);
  const gone = !(await stillThere(report));
  if (opts.json) printJson({ ...report, release: { steps: results, gone } });
  else {
    for (const r of results) process.stdout.write(`${r.status === 0 ? 'done' : `failed (${r.status})`}  ${r.argv.join(' ')}${r.error ? `: ${r.error}` : ''}\n`);
    process.stdout.write(gone ? `released: ${report.type}:[${report.inode}] is gone\n` : '');
  }
  if (!gone) throw new NsmError(`${report.type}:[${report.inode}] is still alive after the release`, { hint: `nsm why ${report.id !== undefined ? `nsid:${report.id}` : report.inode} shows what still holds it` });
}

/** Run each step as printed; waiting a moment for killed processes to be reaped comes from stillThere's rescan. */
function release(report: WhyReport): Array<{ argv: string[]; status: number; error?: string }> {
  const out: Array<{ argv: string[]; status: number; error?: string }> = [];
  for (const step of report.plan) {
    const argv = step.argv[0] === 'nsm' ? [process.execPath, process.argv[1]!, ...step.argv.slice(1)] : step.argv;
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    const error = r.error?.message ?? (r.status !== 0 ? r.stderr.trim().split('\n')[0] : undefined);
    out.push({ argv: step.argv, status: r.status ?? 1, ...(error ? { error } : {}) });
  }
  return out;
}

async function confirm(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}
