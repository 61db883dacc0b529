/**
 * The man pages (man/nsm.1, man/nsm-COMMAND.1, written by scripts/man.mjs at build time from
 * the command table): one per command `nsm --help` lists and no more, each rendered by man-db
 * and groff without a warning, each naming every option, alias and example its `--help`
 * shows, and all of them installed by `npm install -g` through package.json's man field so
 * that `man nsm-exec` finds them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { help, helpCommands } from '../support/help.js';
import { ROOT } from '../support/run.js';

const MAN_DIR = join(ROOT, 'man');
const hasMan = existsSync('/usr/bin/man') && existsSync('/usr/bin/groff');
/** The skip note of the tests that run man or groff. */
const why = hasMan ? '' : ' (skipped: no man or groff; Debian: apt-get install man-db groff-base, which the test set-up does as root)';

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd = ROOT) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 16 << 20 });
  if (r.error) throw r.error;
  return r;
}


/** The flags of each option of a help text: "  -t, --type <types>  ..." -> "-t, --type". */
function optionFlags(text: string): string[] {
  const block = text.slice(text.indexOf('Options:\n')).split('\n\n')[0]!;
  return [...block.matchAll(/^ {2}((?:-\w, )?--[\w-]+|-\w)/gm)].map((m) => m[1]!);
}

/** A page as man shows it, wide enough that no option line is broken. */
function rendered(page: string): string {
  const r = run('man', ['-l', page], { MANWIDTH: '200', MAN_KEEP_FORMATTING: '', MANROFFOPT: '' });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/** One section of rendered text: from its heading to the next heading. */
function section(text: string, heading: string): string {
  const start = text.indexOf(`\n${heading}\n`);
  if (start < 0) return '';
  const rest = text.slice(start + heading.length + 2);
  const end = rest.search(/\n[A-Z][A-Z ]+\n/);
  return end < 0 ? rest : rest.slice(0, end);
}

const cmds = helpCommands();
const pages = ['nsm.1', ...cmds.map(([name]) => `nsm-${name}.1`)];

describe('man pages', () => {
  it('are one per command --help lists, and package.json installs each', () => {
    expect(existsSync(MAN_DIR), 'man/ is written by npm run build').toBe(true);
    expect(readdirSync(MAN_DIR).filter((f) => f.endsWith('.1')).sort()).toEqual([...pages].sort());
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect([...pkg.man].sort()).toEqual(pages.map((p) => `./man/${p}`).sort());
    expect(pkg.files).toContain('man');
  });

  it('write every hyphen as \\- so that options paste as ASCII minus signs', () => {
    // groff(7) may print a bare "-" as a hyphen, U+2010 (Debian's man.local maps it back to
    // ASCII, so rendering alone here would not show it): the source is checked instead.
    for (const page of pages) {
      const lines = readFileSync(join(MAN_DIR, page), 'utf8').split('\n');
      const bare = lines.filter((l) => !l.startsWith('.\\"') && /(^|[^\\])-/.test(l));
      expect(bare, page).toEqual([]);
    }
  });

  it.skipIf(!hasMan)(`render with man and groff without a warning${why}`, () => {
    for (const page of pages) {
      const file = join(MAN_DIR, page);
      const g = run('groff', ['-man', '-ww', '-z', '-Tutf8', file]);
      expect(g.stderr, `groff -man -ww ${page}`).toBe('');
      expect(g.status).toBe(0);
      const m = run('man', ['--warnings', '-E', 'UTF-8', '-l', '-Tutf8', file]);
      expect(m.stderr, `man --warnings ${page}`).toBe('');
      expect(m.status).toBe(0);
      expect(m.stdout.length).toBeGreaterThan(0);
    }
  }, 90_000);

  it.skipIf(!hasMan)(`name every option, alias and example of --help${why}`, () => {
    const main = rendered(join(MAN_DIR, 'nsm.1'));
    for (const flags of optionFlags(help(['--help']))) expect(section(main, 'OPTIONS'), `nsm.1: ${flags}`).toContain(flags);
    for (const [name, ...aliases] of cmds) {
      const page = `nsm-${name}.1`;
      const text = rendered(join(MAN_DIR, page));
      expect(text).toContain(`nsm-${name} - `);
      expect(section(main, 'SEE ALSO'), `nsm.1 points at ${page}`).toContain(`nsm-${name}(1)`);
      const usage = help(['help', name]);
      const flags = optionFlags(usage);
      expect(flags, `nsm help ${name}`).toContain('-h, --help');
      for (const f of flags) expect(section(text, 'OPTIONS'), `${page}: ${f}`).toMatch(new RegExp(`^ {7}${f}( |$)`, 'm'));
      for (const alias of aliases) expect(section(text, 'SYNOPSIS'), `${page}: alias ${alias}`).toContain(`nsm ${alias} `);
      // Examples: "  nsm exec web -- ip -br addr   # the same; ..." -> the command and what it
      // does, each in the page's EXAMPLES (or INSTALL) section, whatever the line breaks.
      const heading = /^(Examples|Install):$/m.exec(usage)?.[1];
      if (heading === undefined) continue;
      const flat = (t: string): string => t.replace(/\s+/g, ' ').toLowerCase();
      const shown = flat(section(text, heading.toUpperCase()));
      const block = usage.slice(usage.indexOf(`${heading}:\n`)).split('\n\n')[0]!.split('\n').slice(1);
      for (const part of block.flatMap((line) => line.trim().split(/\s{2,}/).map((p) => p.replace(/^# /, '')))) {
        expect(shown, `${page}: example ${part}`).toContain(flat(part));
      }
    }
  }, 90_000);

  it.skipIf(!hasMan)(`man ./man/nsm-exec.1 renders the page${why}`, () => {
    const r = run('man', ['./man/nsm-exec.1'], { MANWIDTH: '100', PAGER: 'cat' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("nsm-exec - run a command in an environment's namespaces");
    expect(section(r.stdout, 'EXIT STATUS')).toContain('125');
  });

  describe('after npm install -g', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'nsm-man-'));
    afterAll(() => rmSync(tmp, { recursive: true, force: true }));

    it.skipIf(!hasMan)(`man finds every page once the prefix's bin/ is on PATH${why}`, () => {
      // The package as built (man/ included): no prepare, no install scripts, nothing but the
      // man links is looked at.
      const pack = run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', tmp]);
      expect(pack.status, pack.stderr).toBe(0);
      const tarball = join(tmp, pack.stdout.trim().split('\n').pop()!);
      const prefix = join(tmp, 'prefix');
      const install = run(
        'npm',
        ['install', '-g', '--prefix', prefix, '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', tarball],
        {},
        tmp,
      );
      expect(install.status, install.stderr).toBe(0);
      for (const page of pages) {
        // As a user has it: the prefix's bin/ on PATH, no MANPATH (man-db then looks in
        // ../share/man beside each PATH directory: manpath(5)).
        const r = run('man', ['-w', page.replace(/\.1$/, '')], { MANPATH: undefined, PATH: `${join(prefix, 'bin')}:${process.env.PATH}` });
        expect(r.status, `man -w ${page}: ${r.stderr}`).toBe(0);
        expect(realpathSync(r.stdout.trim())).toBe(realpathSync(join(prefix, 'lib/node_modules/nsm/man', page)));
      }
    }, 120_000);
  });
});
