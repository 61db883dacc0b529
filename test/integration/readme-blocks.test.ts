/**
 * The README is read in five minutes and every command in it can be pasted (issue 16 §2):
 * it is under 250 lines; every code block says what it holds (sh/bash/console for commands,
 * text for output); every command line of those blocks is valid bash (`bash -n`) and every
 * nsm command in it is accepted by nsm's own parser (commander, built from the command
 * table), so a description without `#` ("too many arguments") fails here. The safe ones run
 * for real as root: the read-only commands, and the quick start's create/exec/destroy under a
 * unique name and a private state directory. The docs/ pages' sh blocks are checked the same
 * way without running (they name example PIDs, hosts and files).
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { CommanderError } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/commands/program.js';
import { isRoot, NSM, ROOT } from '../support/run.js';

interface Block {
  file: string;
  line: number; // of the opening fence, 1-based
  lang: string;
  body: string[];
  heading: string; // the ## heading the block is under
}

function read(file: string): string {
  return readFileSync(join(ROOT, file), 'utf8');
}

/** The fenced code blocks of a Markdown file. */
function blocks(file: string): Block[] {
  const lines = read(file).split('\n');
  const found: Block[] = [];
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.startsWith('## ')) heading = lines[i]!.slice(3);
    const open = /^```(\S*)/.exec(lines[i]!);
    if (!open) continue;
    let j = i + 1;
    while (j < lines.length && !lines[j]!.startsWith('```')) j++;
    found.push({ file, line: i + 1, lang: open[1]!, body: lines.slice(i + 1, j), heading });
    i = j;
  }
  return found;
}

/**
 * The language a block's commands are read in: its tag, or for an untagged block (which the
 * README must not have) what it looks like: a transcript (prompt lines) or bare commands.
 */
function commandLang(block: Block): string | undefined {
  if (['sh', 'bash', 'console'].includes(block.lang)) return block.lang;
  if (block.lang !== '') return undefined;
  if (block.body.some((l) => /^[$#] nsm /.test(l))) return 'console';
  if (block.body.length > 0 && block.body.every((l) => /^nsm /.test(l))) return 'sh';
  return undefined;
}

/** The command lines of a block: every line of sh/bash (but comments), prompt lines of console. */
function commands(block: Block): string[] {
  const out: string[] = [];
  let pending = '';
  for (const raw of block.body) {
    let line = raw;
    if (commandLang(block) === 'console') {
      const m = /^[$#] (.*)$/.exec(line);
      if (!m) continue;
      line = m[1]!;
    } else if (/^\s*(#|$)/.test(line)) continue;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    out.push(pending + line);
    pending = '';
  }
  return out;
}

type Token = { word: string } | { op: string };

/** Shell words and operators of a line, as far as the README's lines need: quotes, $(…), <(…), comments. */
function tokens(line: string): Token[] {
  const out: Token[] = [];
  let word = '';
  let inWord = false;
  const flush = () => {
    if (inWord) out.push({ word });
    word = '';
    inWord = false;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      word += line.slice(i + 1, end < 0 ? undefined : end);
      inWord = true;
      i = end < 0 ? line.length : end;
    } else if ((c === '$' || c === '<') && line[i + 1] === '(') {
      let depth = 0;
      let j = i + 1;
      for (; j < line.length; j++) {
        if (line[j] === '(') depth++;
        if (line[j] === ')' && --depth === 0) break;
      }
      if (c === '<') {
        flush();
        out.push({ op: ';' }, ...tokens(line.slice(i + 2, j)), { op: ';' });
      } else {
        word += '4242'; // a command substitution stands for a PID in these examples
        inWord = true;
      }
      i = j;
    } else if (c === '$' && line[i + 1] === '$') {
      word += String(process.pid);
      inWord = true;
      i++;
    } else if (/\s/.test(c)) {
      flush();
    } else if (c === '#' && !inWord) {
      break; // a comment to the end of the line
    } else if ('|&;<>'.includes(c)) {
      flush();
      const two = line.slice(i, i + 2);
      const op = ['||', '&&', '>>'].includes(two) ? two : c;
      out.push({ op });
      i += op.length - 1;
    } else {
      word += c;
      inWord = true;
    }
  }
  flush();
  return out;
}

/** The argument lists of every nsm invocation on a line ("nsm ls -t net | jq …" -> [['ls', '-t', 'net']]). */
function nsmInvocations(line: string): string[][] {
  const found: string[][] = [];
  let segment: string[] = [];
  const end = () => {
    const at = segment.indexOf('nsm');
    // nsm first, or after a wrapper that runs it (setpriv …, sudo, env).
    if (at === 0 || (at > 0 && ['setpriv', 'sudo', 'env'].includes(segment[0]!))) found.push(segment.slice(at + 1));
    segment = [];
  };
  const list = tokens(line);
  for (let i = 0; i < list.length; i++) {
    const t = list[i]!;
    if ('word' in t) segment.push(t.word);
    else if (['>', '>>', '<'].includes(t.op)) i++; // the redirection's file
    else end();
  }
  end();
  return found;
}

/** What nsm's own parser says of `nsm ARGS`: undefined if it accepts them, else its error. */
async function parseError(args: string[]): Promise<string | undefined> {
  const program = buildProgram();
  const silent = { writeOut: () => {}, writeErr: () => {}, outputError: () => {} };
  for (const cmd of [program, ...program.commands]) {
    cmd.configureOutput(silent);
    if (cmd !== program) cmd.action(() => {}); // parse only: run nothing
  }
  try {
    await program.parseAsync(args, { from: 'user' });
    return undefined;
  } catch (e) {
    if (e instanceof CommanderError && /^commander\.(help|helpDisplayed|version)$/.test(e.code)) return undefined;
    return e instanceof Error ? e.message : String(e);
  }
}

/** Problems of one command line: bash syntax, then nsm's parser on each nsm invocation. */
async function lineProblems(line: string): Promise<string[]> {
  const problems: string[] = [];
  const bash = spawnSync('bash', ['-n', '-c', line], { encoding: 'utf8' });
  if (bash.status !== 0) problems.push(`bash -n: ${bash.stderr.trim()}`);
  for (const args of nsmInvocations(line)) {
    const error = await parseError(args);
    if (error) problems.push(`nsm ${args.join(' ')}: ${error}`);
  }
  return problems;
}

const README = read('README.md');
const readmeBlocks = blocks('README.md');
const docs = existsSync(join(ROOT, 'docs')) ? readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).sort() : [];

describe('the README is short', () => {
  it('is under 250 lines', () => {
    expect(README.split('\n').length).toBeLessThan(250);
  });

  it('tags every code block: sh/bash/console for commands, text for output', () => {
    const untagged = readmeBlocks.filter((b) => !['sh', 'bash', 'console', 'text', 'yaml', 'json'].includes(b.lang));
    expect(untagged.map((b) => `README.md:${b.line}: ${b.body[0]}`)).toEqual([]);
  });

  it('has an Install section with the two commands CI runs (.ci/run), and the Node versions .ci/node-matrix.sh tests', () => {
    const install = readmeBlocks.filter((b) => b.heading === 'Install' && b.lang === 'sh');
    expect(install.length, 'no sh block under "## Install"').toBeGreaterThan(0);
    const shown = commands(install[0]!).map((l) => tokens(l).flatMap((t) => ('word' in t ? [t.word] : [])).join(' '));
    const ci = read('.ci/run')
      .split('\n')
      .filter((l) => /^npm /.test(l))
      .map((l) => l.trim());
    expect(ci.slice(0, shown.length), '.ci/run runs the README\'s commands first').toEqual(shown);
    const matrix = /versions=\(([\d. ]+)\)/.exec(read('.ci/node-matrix.sh'))![1]!.trim().split(/\s+/);
    const section = README.slice(README.indexOf('## Install'), README.indexOf('\n## ', README.indexOf('## Install')));
    for (const v of matrix) expect(section, `README's Install does not name Node ${v.split('.')[0]}`).toContain(`Node ${v.split('.')[0]}`);
  });

  it('has a quick start: one sh block of at most 12 commands that creates, enters and destroys an environment', () => {
    const quick = readmeBlocks.filter((b) => b.heading === 'Quick start' && b.lang === 'sh');
    expect(quick.length).toBe(1);
    const lines = commands(quick[0]!);
    expect(lines.length).toBeLessThanOrEqual(12);
    for (const sub of ['create', 'exec', 'destroy']) expect(lines.some((l) => nsmInvocations(l).some((a) => a[0] === sub)), `no nsm ${sub}`).toBe(true);
  });
});

describe('every command line of the README can be pasted', () => {
  for (const block of readmeBlocks.filter((b) => commandLang(b) !== undefined)) {
    it(`README.md:${block.line} (${block.heading}): valid bash, and nsm's parser accepts every nsm command`, async () => {
      const lines = commands(block);
      expect(lines.length).toBeGreaterThan(0);
      const problems: string[] = [];
      for (const line of lines) for (const p of await lineProblems(line)) problems.push(`${line}\n    ${p}`);
      expect(problems).toEqual([]);
    });
  }
});

for (const page of docs) {
  const shBlocks = blocks(`docs/${page}`).filter((b) => ['sh', 'bash'].includes(b.lang));
  if (shBlocks.length === 0) continue;
  it(`docs/${page}: every line of its sh blocks is valid bash and parses as nsm (not run: example PIDs, hosts and files)`, async () => {
    const problems: string[] = [];
    for (const block of shBlocks)
      for (const line of commands(block)) for (const p of await lineProblems(line)) problems.push(`docs/${page}:${block.line}: ${line}\n    ${p}`);
    expect(problems).toEqual([]);
  });
}

describe('the docs/ pages', () => {
  it('docs/README.md indexes every page, and every relative link of README.md and docs/*.md resolves', () => {
    expect(docs).toContain('README.md');
    const index = read('docs/README.md');
    for (const page of docs.filter((p) => p !== 'README.md')) expect(index, `docs/README.md does not link ${page}`).toContain(`](${page})`);
    expect(README).toContain('](docs/README.md)');
    const slug = (h: string) =>
      h
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-');
    const anchors = (file: string) => {
      const set = new Set<string>();
      let fence = false;
      for (const l of read(file).split('\n')) {
        if (l.startsWith('```')) fence = !fence;
        else if (!fence && /^#{1,6} /.test(l)) set.add(slug(l.replace(/^#+ /, '')));
      }
      return set;
    };
    const broken: string[] = [];
    for (const file of ['README.md', ...docs.map((p) => `docs/${p}`)]) {
      let fence = false;
      for (const l of read(file).split('\n')) {
        if (l.startsWith('```')) fence = !fence;
        if (fence) continue;
        for (const m of l.matchAll(/\]\(([^)\s]+)\)/g)) {
          const target = m[1]!;
          if (/^[a-z]+:/.test(target)) continue;
          const [path, anchor] = target.split('#');
          const to = path ? relative(ROOT, resolve(ROOT, dirname(file), path)) : file;
          if (!existsSync(join(ROOT, to))) broken.push(`${file}: ${target} (no ${to})`);
          else if (anchor && to.endsWith('.md') && !anchors(to).has(anchor)) broken.push(`${file}: ${target} (no heading #${anchor} in ${to})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});

/**
 * The README's sh blocks run for real (as root), each as one script in a private state
 * directory: lines of the safe commands only. Environment names the block creates are made
 * unique (other tests run at the same time, and /run/netns is shared by every state dir).
 */
const SAFE = new Set(['ls', 'list', 'inspect', 'info', 'tree', 'ps', 'procs', 'why', 'diff', 'doctor', 'help', '--help', '--version', '-V']);
const SEQUENCE = new Set(['create', 'exec', 'destroy']);

/** The environment names a block creates (`nsm create NAME`). */
function createdNames(lines: string[]): string[] {
  const names = lines.flatMap((l) => nsmInvocations(l).filter((a) => a[0] === 'create').map((a) => a.find((w, i) => i > 0 && !w.startsWith('-'))!));
  return [...new Set(names)];
}

/**
 * Why a line is not run, or undefined when it is safe to run: read-only commands, and
 * exec/destroy only of an environment the block itself creates; never --release, --force,
 * --all, a background job, or anything but nsm (and the alias line).
 */
function notRunBecause(line: string, created: string[]): string | undefined {
  if (/^alias nsm="\$PWD\/bin\/nsm"/.test(line)) return undefined;
  if (/^npm (install|test)\s*(#|$)/.test(line)) return 'npm install and npm test: CI runs them on a clean clone (.ci/run); checked above to be .ci/run\'s';
  const calls = nsmInvocations(line);
  if (calls.length === 0) return 'not an nsm command';
  if (tokens(line).some((t) => 'op' in t && t.op === '&')) return 'runs in the background';
  for (const args of calls) {
    if (args.some((a) => ['--release', '--force', '-f', '--all', '--forget'].includes(a))) return 'changes what it did not create';
    if (SAFE.has(args[0]!)) continue;
    if (!SEQUENCE.has(args[0]!)) return `nsm ${args[0]} is not among the safe commands run here`;
    const target = args.find((w, i) => i > 0 && !w.startsWith('-'));
    if (!target || !created.includes(target)) return `nsm ${args[0]} of ${target ?? 'nothing'}: not an environment this block creates`;
  }
  return undefined;
}

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const c of cleanups.reverse()) c();
});

/** A private directory for `uid` (root's by default), removed after the tests. */
function privateDir(uid?: number): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'nsm-readme-blocks-')));
  if (uid !== undefined) chownSync(dir, uid, uid);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Command and arguments run as `uid` (setpriv, as the other rootless tests), or as ourselves. */
function as(uid: number | undefined, argv: string[]): string[] {
  return uid === undefined ? argv : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...argv];
}

/**
 * Run `lines` in order as one bash script in the checkout, as a person pastes them: the
 * environments they create renamed to unique names, a private state directory, `nsm` on PATH.
 * Each line must succeed (doctor may answer 1: a check failed on this host, not a paste error).
 */
function runLines(lines: string[], created: string[], uid?: number): void {
  const stateDir = privateDir(uid);
  const statusDir = privateDir(uid);
  const suffix = Math.random().toString(36).slice(2, 8);
  const rename = (l: string) => created.reduce((s, n) => s.replace(new RegExp(`\\b${n}\\b`, 'g'), `${n}-${suffix}`), l);
  const env = { ...process.env, NSM_STATE_DIR: stateDir, PATH: `${ROOT}bin:${process.env.PATH}`, NO_COLOR: '1', NSM_DEBUG: undefined, HOME: uid === undefined ? process.env.HOME : '/' };
  // Whatever a failed run left: ended before the directories go (cleanups run last-in first).
  cleanups.push(() => {
    for (const n of created) {
      const [cmd, ...args] = as(uid, [process.execPath, NSM, 'destroy', '--force', `${n}-${suffix}`]);
      spawnSync(cmd!, args, { env, stdio: 'ignore' });
    }
  });
  const statusFile = join(statusDir, 'statuses');
  const script = lines.map((l, i) => `${rename(l)}\necho "${i} $?" >> '${statusFile}'`).join('\n');
  const [cmd, ...args] = as(uid, ['bash', '-O', 'expand_aliases', '-c', script]);
  const r = spawnSync(cmd!, args, { cwd: ROOT, encoding: 'utf8', env, timeout: 60_000 });
  const statuses = existsSync(statusFile) ? readFileSync(statusFile, 'utf8').trim().split('\n').map((x) => Number(x.split(' ')[1])) : [];
  const report = `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
  expect(statuses.length, report).toBe(lines.length);
  lines.forEach((l, i) => {
    const ok = nsmInvocations(l).some((a) => a[0] === 'doctor') ? [0, 1] : [0];
    expect(ok, `${l}: exit ${statuses[i]}\n${report}`).toContain(statuses[i]);
  });
  expect(r.stderr).not.toMatch(/too many arguments|unknown option|unknown command/);
  // What the lines created, they destroyed: nothing of it is left.
  for (const n of created) expect(existsSync(join(stateDir, 'envs', `${n}-${suffix}`)), `${n}-${suffix} left behind`).toBe(false);
}

describe('the README\'s safe commands run', () => {
  // Only the README's own tagged blocks: an untagged one fails the checks above.
  for (const block of readmeBlocks.filter((b) => ['sh', 'bash'].includes(b.lang))) {
    const lines = commands(block);
    const created = createdNames(lines);
    const skipped = lines.map((l) => [l, notRunBecause(l, created)] as const).filter(([, why]) => why !== undefined);
    for (const [line, why] of skipped) it.skip(`README.md:${block.line}: ${line} — not run: ${why}`, () => {});
    const run = lines.filter((l) => notRunBecause(l, created) === undefined);
    if (run.length === 0 || !run.some((l) => nsmInvocations(l).length > 0)) continue;

    const needsRoot = isRoot ? '' : ' (skipped: needs root, to run it as root and to switch to uid 65534)';
    it.skipIf(!isRoot)(`README.md:${block.line} (${block.heading}): ${run.length} lines run as root, in order, each succeeding${needsRoot}`, () => {
      runLines(run, created);
    }, 90_000);
    it.skipIf(!isRoot)(`README.md:${block.line} (${block.heading}): the same lines run as uid 65534 (rootless)${needsRoot}`, () => {
      runLines(run, created, 65534);
    }, 90_000);
  }
});
