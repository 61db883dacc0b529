/** `nsm doctor`: can this host and user run nsm (a CI preflight). */
import { defineCommand, defineOptions } from './spec.js';

export const doctorOptions = defineOptions([{ flags: '--json', description: 'JSON output: {ok, uid, checks: [{id, title, status, detail, fix?}]}' }]);

export const doctorCommand = defineCommand({
  name: 'doctor',
  summary: 'check that this host and user can run nsm (a CI preflight)',
  description:
    'Check the kernel, user-namespace settings, newuidmap/newgidmap, sub-id ranges, cgroups, the state directory and the native helper for the calling user. Each check is ok, warn or fail, with the command that fixes it. Exits 0 when everything nsm needs works for the caller, 1 otherwise.',
  options: doctorOptions,
  exitStatus: [
    { status: '0', when: 'everything nsm needs works for the caller (warnings allowed)' },
    { status: '1', when: 'a check failed' },
  ],
  examples: [
    { command: 'nsm doctor', does: 'the checks as a table, fixes below' },
    { command: "nsm doctor --json | jq -r '.checks[] | select(.status != \"ok\") | .fix // empty'" },
    { command: 'setpriv --reuid=1000 --regid=1000 --init-groups nsm doctor', does: 'check as another user' },
  ],
  action: () => import('./actions/doctor.js'),
});
