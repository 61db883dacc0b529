import { Command } from 'commander';
import { doctorPassed, runDoctor } from '../core/doctor.js';
import { NsmError } from '../sys/errors.js';
import { renderDoctor } from '../ui/doctor.js';
import { printJson } from '../ui/json.js';

export function doctorCommand(): Command {
  return new Command('doctor')
    .summary('check that this host and user can run nsm (a CI preflight)')
    .description(
      'Check the kernel, user-namespace settings, newuidmap/newgidmap, sub-id ranges, cgroups, the state directory and the native helper for the calling user. Each check is ok, warn or fail, with the command that fixes it. Exits 0 when everything nsm needs works for the caller, 1 otherwise.',
    )
    .option('--json', 'JSON output: {ok, uid, checks: [{id, title, status, detail, fix?}]}')
    .addHelpText('after', `
Examples:
  nsm doctor                                  the checks as a table, fixes below
  nsm doctor --json | jq -r '.checks[] | select(.status != "ok") | .fix // empty'
  setpriv --reuid=1000 --regid=1000 --init-groups nsm doctor    check as another user`)
    .action(async (opts) => {
      const checks = await runDoctor();
      if (opts.json) printJson({ ok: doctorPassed(checks), uid: process.geteuid?.(), checks });
      else process.stdout.write(renderDoctor(checks));
      const failed = checks.filter((c) => c.status === 'fail');
      if (failed.length > 0) {
        throw new NsmError(`doctor: ${failed.length} check${failed.length === 1 ? '' : 's'} failed: ${failed.map((c) => c.id).join(', ')}`);
      }
    });
}
