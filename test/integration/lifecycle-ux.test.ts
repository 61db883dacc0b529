/**
 * The first-hour frictions of issue 16 §1 around the lifecycle commands, on the real kernel:
 * destroy of a held environment (its record stays until the namespaces are gone, so
 * `destroy --force` can end what is left), fractional --timeout, diff's exit status as
 * diff(1)/cmp(1), exec without a command, gc -n --json, help's usage lines and aliases, and
 * /run/netns names of two state directories. Every process a test starts is inside an
 * environment it created; lifecycle-helpers.ts cleans up what a test made.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../support/run.js';
import { cleanup, create, isRoot, nsm, ROOTLESS_UID, stateDir, uniqueName } from './lifecycle-helpers.js';

afterEach(cleanup);

/** As root the rootless-capable cases run as ROOTLESS_UID too; as a user, as ourselves. */
const asUser = isRoot ? { uid: ROOTLESS_UID } : {};

describe('destroy --timeout takes fractions of a second', () => {
  it('--timeout 0.2 is accepted; 0, -1 and "x" are one-line usage errors (exit 2)', async () => {
    const dir = stateDir(asUser.uid);
    const name = uniqueName('ux');
    await create(name, ['-t', 'uts'], { stateDir: dir, ...asUser });
    const ok = await nsm(['destroy', '--timeout', '0.2', name], { stateDir: dir, ...asUser });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    for (const bad of ['0', '-1', 'x', '1e3']) {
      const r = await nsm(['destroy', `--timeout=${bad}`, name], { stateDir: dir, ...asUser });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`nsm: --timeout needs a positive number of seconds, not: ${bad}\n`);
    }
  });
});

describe('diff exits as diff(1): 0 same, 1 different, 2 trouble, with and without -q', () => {
  it('answers through its status in every form', async () => {
    const dir = stateDir(asUser.uid);
    const a = uniqueName('uxa');
    const b = uniqueName('uxb');
    await create(a, ['-t', 'uts'], { stateDir: dir, ...asUser });
    await create(b, ['-t', 'uts'], { stateDir: dir, ...asUser });
    const run = (args: string[]) => nsm(['diff', ...args], { stateDir: dir, ...asUser });
    for (const form of [[], ['-q'], ['--json']]) {
      expect((await run([...form, a, a])).code, `${form} same`).toBe(0);
      expect((await run([...form, '-t', 'uts', a, b])).code, `${form} different`).toBe(1);
      expect((await run([...form, '-t', 'net', a, b])).code, `${form} -t net: shared`).toBe(0);
      const missing = await run([...form, a, uniqueName('nope')]);
      expect(missing.code, `${form} missing`).toBe(2);
      expect(missing.stderr).toMatch(/^nsm: no environment named nope-[0-9a-f]+\n/);
      expect((await run([...form, a, 'x:1'])).code, `${form} usage`).toBe(2);
    }
    const human = await run([a, b]);
    expect(human.stdout).toContain('different');
  });

  it('help and the man page document the three statuses', async () => {
    const help = (await nsm(['help', 'diff'])).stdout;
    expect(help).toMatch(/^Exit status:\n {2}0 {2}every compared type is the same namespace on both sides\n {2}1 {2}some compared type/m);
    expect(help).toMatch(/^ {2}2 {2}trouble: /m);
    const page = readFileSync(join(ROOT, 'man', 'nsm-diff.1'), 'utf8');
    expect(page).toContain('some compared type is a different namespace on each side');
    expect(page).toMatch(/trouble: a usage error/);
  });
});

describe('exec without a command points at enter', () => {
  it('one line naming nsm enter NAME, exit 125', async () => {
    const name = uniqueName('uxe');
    const r = await nsm(['exec', name]);
    expect(r.code).toBe(125);
    expect(r.stderr).toBe(`nsm: exec needs a command after the target (nsm exec ${name} -- COMMAND...); nsm enter ${name} starts a shell there\n`);
    const t = await nsm(['run', '-t', 'net', name]);
    expect(t.code).toBe(125);
    expect(t.stderr).toContain(`nsm enter ${name} starts a shell`);
  });
});

describe('help: required operands and every alias', () => {
  it('nsm --help shows create <name> and destroy|rm|del', async () => {
    const text = (await nsm(['--help'])).stdout;
    expect(text).toMatch(/^ {2}create\|new \[options\] <name> /m);
    expect(text).toMatch(/^ {2}destroy\|rm\|del \[options\] \[names\.\.\.\] /m);
    expect(text).toMatch(/^ {2}exec\|run \[options\] <target> <command\.\.\.> /m);
    expect(text).toMatch(/^ {2}ls\|list \[options\] /m);
    expect(text).toMatch(/^ {2}completion <shell> /m);
  });

  it("each command's help names all its aliases", async () => {
    expect((await nsm(['help', 'del'])).stdout).toMatch(/^Usage: nsm destroy\|rm\|del \[options\] \[names\.\.\.\]$/m);
    expect((await nsm(['create', '--help'])).stdout).toMatch(/^Usage: nsm create\|new \[options\] <name>$/m);
    expect((await nsm(['exec', '--help'])).stdout).toMatch(/^Usage: nsm exec\|run \[options\] <target> <command\.\.\.>$/m);
  });
});
