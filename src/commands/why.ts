import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import { parseTarget } from '../core/target.js';
import { parseWhySpec, specText, stillThere, usernsLimits, why, type WhyReport } from '../core/why.js';
import { NsmError, UsageError } from '../sys/errors.js';
import { NS_TYPE_NAMES } from '../sys/nstypes.js';
import { printJson } from '../ui/json.js';
import { renderUsernsLimits, renderWhy } from '../ui/why-view.js';
import { parseNsType } from './options.js';

export function whyCommand(): Command {
  return new Command('why')
    .summary('what keeps a namespace alive, and how to release it')
    .description(
      'Name every holder of one namespace: its processes, threads of other processes, open fds, bind mounts in every ' +
        'mount namespace, sockets (net, as root), owned namespaces (user) and child pid namespaces, and its names; then ' +
        'the commands that would release it. NS is an inode (or ns:INODE), nsid:ID, or a PID or environment with -t TYPE.',
    )
    .argument('[ns]', 'the namespace: INODE, ns:INODE, nsid:ID, or PID|ENV with -t')
    .option('-t, --type <type>', `with a PID or environment: which of its namespaces (${NS_TYPE_NAMES.join(', ')})`, parseNsType)
    .option('--release', 'carry out the plan, then check that the namespace is gone')
    .option('-y, --yes', 'do not ask before --release (required when stdin is not a terminal)')
    .option('--userns-limit', 'per uid: user namespaces alive against max_user_namespaces, and what holds them')
    .option('-J, --json', 'JSON output')
    .addHelpText('after', `
Examples:
  nsm why 4026532177                     who holds this namespace
  nsm why nsid:7098 --json               the same by 64-bit namespace id, as JSON
  nsm why -t net web                     the net namespace of environment web
  nsm why 4026532177 --release --yes     release it, then check that it is gone
  nsm why --userns-limit                 who uses up user.max_user_namespaces

Exit status: 0; 1 when the namespace does not exist or a release left it alive; 2 bad usage.`)
    .action(async (ns: string | undefined, opts) => {
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
    });
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
