// Write the man pages, man/nsm.1 and man/nsm-COMMAND.1 (one per command of the command table,
// none for hidden ones), in roff with the man(7) macros. They come from the same declarations
// and the same commander program as `--help`: the options listed are those commander's help
// lists (its Help.visibleOptions), so a page cannot miss an option help shows
// (test/integration/man.test.ts checks it, and that groff renders every page without warnings).
// Run by `npm run build` after tsc; man/ is generated, like dist/, and not committed.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { esc } from './roff.mjs';

const dist = new URL('../dist/', import.meta.url);
const { COMMAND_TABLE } = await import(new URL('commands/table.js', dist).href);
const { buildProgram, PROGRAM_EXAMPLES } = await import(new URL('commands/program.js', dist).href);
const { VERSION } = await import(new URL('version.js', dist).href);

const outDir = new URL('../man/', import.meta.url);

// ---- roff text ---------------------------------------------------------------------------

const bold = (text) => `\\fB${esc(text)}\\fR`;
const italic = (text) => `\\fI${esc(text)}\\fR`;

/** Help's hard-wrapped text as roff paragraphs: blank lines separate them, line ends are spaces. */
function paragraphs(text) {
  return text
    .trim()
    .split(/\n\s*\n/)
    .map((p) => esc(p.split('\n').map((l) => l.trim()).join(' ')))
    .join('\n.PP\n');
}

/** '[options] <name> <command...>' with the placeholders in italics, as man-pages(7) sets a synopsis. */
function usageRoff(usage) {
  return usage
    .split(' ')
    .map((word) => {
      const m = /^([[<])([^\]>.]+)(\.\.\.)?[\]>]$/.exec(word);
      if (!m) return esc(word);
      const [, open, name, dots = ''] = m;
      return `${open === '[' ? '[' : ''}${italic(name)}${dots}${open === '[' ? ']' : ''}`;
    })
    .join(' ');
}

/** '-t, --type <types>' as bold flags and an italic value. */
function flagsRoff(flags) {
  return flags
    .split(/(,? )/)
    .map((part) => {
      if (part === ', ' || part === ' ') return part;
      const m = /^([[<])(.+)[\]>]$/.exec(part);
      if (m) return m[1] === '[' ? `[${italic(m[2])}]` : italic(m[2]);
      return bold(part);
    })
    .join('');
}

/** Each example: the command as pasted, then what it does, indented under it. */
function examplesRoff(examples) {
  return examples
    .map((e) => ['.PP', '.RS 4', '.nf', esc(e.command), '.fi', ...(e.does ? ['.RS 4', esc(sentence(e.does)), '.RE'] : []), '.RE'].join('\n'))
    .join('\n');
}

/** Help's lower-case fragments as sentences: a capital first, a full stop last. */
function sentence(text) {
  const t = text.trim().replace(/^./, (c) => c.toUpperCase());
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

const tp = (term, text) => `.TP\n${term}\n${text}`;

// ---- what every page shares --------------------------------------------------------------

/** Exit statuses of every command but those that run a command (docs/commands.md, "Exit codes"). */
const EXIT_GENERAL = [
  ['0', 'Success.'],
  ['1', 'A runtime error: no such process or environment, not permitted, a failed system call.'],
  ['2', 'A usage error: unknown option or command, a bad type name or option value, an invalid environment name.'],
  ['141', 'Standard output or standard error was closed early (nsm ps -a | head -1): nsm ends quietly, as a tool killed by SIGPIPE (128+13) does.'],
];

/** exec, enter and unshare exit with the command's status; nsm's own failures take values a command rarely uses. */
const EXIT_RUNS_COMMAND = [
  ["the command's", 'The command ran and exited with that status.'],
  ['125', 'nsm itself failed and the command never ran: unknown, dead or reused environment, a failed join, and usage errors too.'],
  ['126', 'The command was found but could not be executed.'],
  ['127', 'The command was not found.'],
  ['128+N', 'The command died of signal N (143: SIGTERM, 137: SIGKILL).'],
];

/** docs/commands.md, "Environment variables"; `only` limits one to the pages of those commands. */
const ENVIRONMENT = [
  ['NSM_STATE_DIR', 'The state directory (the records of environments), instead of /run/nsm (root), $XDG_RUNTIME_DIR/nsm or /tmp/nsm-$UID.'],
  ['NSM_TMPDIR', "An absolute path used instead of /tmp for users' nsm-$UID state directories; root then keeps its own in $NSM_TMPDIR/nsm-0 instead of /run/nsm and looks for other users' directories only there."],
  ['XDG_RUNTIME_DIR', "A user's state directory is $XDG_RUNTIME_DIR/nsm when this is set, absolute, a directory of theirs and of mode 0700; else /tmp/nsm-$UID."],
  ['NSM_DEBUG', 'Set to 1: a stack trace after an error message (errors are one line without it).'],
  ['NSM_HELPER', 'Path of the native helper to use instead of native/build/nsm-helper of the package.'],
  ['NO_COLOR', 'Set and not empty: no colour, even on a terminal.'],
  ['FORCE_COLOR', 'Colour even when standard output is not a terminal (FORCE_COLOR=0 turns it off); wins over NO_COLOR.'],
  ['TERM', 'dumb: no colour. Otherwise only the colour depth follows it.'],
  ['SHELL', 'The shell nsm enter NAME starts (else /bin/sh).', ['enter']],
  ['NSM_ENV', "Set by nsm, not read: the environment's name, for the command exec and enter run.", ['enter', 'exec']],
];

const FILES = [
  ['/run/nsm', "Root's state directory: one record per environment."],
  ['$XDG_RUNTIME_DIR/nsm', "A user's state directory, when XDG_RUNTIME_DIR is usable."],
  ['/tmp/nsm-UID', "Any other user's state directory (mode 0700, refused when it is a symbolic link, another user's, or writable by others)."],
  ['/run/netns/NAME', "As root, the link of an environment's network namespace, as ip netns add makes, so that ip netns exec NAME sees it."],
  ['/proc/PID/ns/', 'The namespaces of each process, which nsm scans.'],
];

const SEE_ALSO_SYSTEM = [
  ['lsns', 8],
  ['nsenter', 1],
  ['unshare', 1],
  ['ip-netns', 8],
  ['namespaces', 7],
  ['user_namespaces', 7],
];

const pageName = (decl) => `nsm-${decl.name}`;
const visible = COMMAND_TABLE.filter((d) => !d.hidden);

function seeAlso(self) {
  const nsm = [{ name: 'nsm' }, ...visible.map((d) => ({ name: pageName(d) }))].filter((p) => p.name !== self).map((p) => [p.name, 1]);
  return [...nsm, ...SEE_ALSO_SYSTEM].map(([name, section]) => `${bold(name)}(${section})`).join(',\n');
}

function header(name, summary) {
  return [
    `.\\" Generated by scripts/man.mjs from nsm's command table (src/commands/table.ts); do not edit.`,
    `.TH ${esc(name.toUpperCase())} 1 "" "nsm ${esc(VERSION)}" "nsm manual"`,
    // No hyphenation: a hyphen added inside an option or page name would be pasted with it.
    '.nh',
    '.SH NAME',
    `${esc(name)} \\- ${esc(summary)}`,
  ];
}

function environmentRoff(command) {
  return ENVIRONMENT.filter(([, , only]) => !only || command === undefined || only.includes(command))
    .map(([name, text]) => tp(bold(name), esc(text)))
    .join('\n');
}

const filesRoff = () => FILES.map(([path, text]) => tp(italic(path), esc(text))).join('\n');
const statusRoff = (list) => list.map(([status, text]) => tp(bold(status), esc(text))).join('\n');

// ---- pages -------------------------------------------------------------------------------

function optionsRoff(cmd) {
  const help = cmd.createHelp();
  return help
    .visibleOptions(cmd)
    .map((opt) => tp(flagsRoff(opt.flags), esc(sentence(help.optionDescription(opt)))))
    .join('\n');
}

function commandPage(decl, cmd) {
  const name = pageName(decl);
  const aliases = decl.aliases ?? [];
  const args = cmd.registeredArguments ?? [];
  const lines = [
    ...header(name, decl.summary),
    '.SH SYNOPSIS',
    `${bold(`nsm ${decl.name}`)} ${usageRoff(cmd.usage())}`,
    ...aliases.map((a) => `.br\n${bold(`nsm ${a}`)} ${usageRoff(cmd.usage())}`),
    '.SH DESCRIPTION',
    paragraphs(decl.description),
  ];
  if (aliases.length > 0) lines.push('.PP', `${aliases.map(bold).join(', ')} ${aliases.length > 1 ? 'are aliases' : 'is an alias'} of ${bold(decl.name)}.`);
  if (decl.notes) lines.push('.PP', paragraphs(decl.notes));
  if (decl.epilogue) lines.push('.PP', paragraphs(decl.epilogue));
  if (args.length > 0) {
    lines.push('.SH ARGUMENTS', ...args.map((a) => tp(italic(a.name()), esc(sentence(a.description + (a.argChoices ? ` (one of: ${a.argChoices.join(', ')})` : ''))))));
  }
  lines.push('.SH OPTIONS', optionsRoff(cmd));
  lines.push('.SH EXIT STATUS', statusRoff(decl.runsCommand ? EXIT_RUNS_COMMAND : EXIT_GENERAL));
  if (decl.exitStatus?.length) {
    lines.push('.PP', `${bold(`nsm ${decl.name}`)} also answers with its status:`, statusRoff(decl.exitStatus.map((s) => [s.status, sentence(s.when)])));
  }
  lines.push('.SH ENVIRONMENT', environmentRoff(decl.name));
  lines.push('.SH FILES', filesRoff());
  if (decl.examples?.length) lines.push(`.SH ${esc((decl.examplesHeading ?? 'Examples').toUpperCase())}`, examplesRoff(decl.examples));
  lines.push('.SH SEE ALSO', seeAlso(name));
  return `${lines.join('\n')}\n`;
}

function mainPage(program) {
  const lines = [
    ...header('nsm', 'Linux namespace manager'),
    '.SH SYNOPSIS',
    `${bold('nsm')} ${usageRoff('[options] <command> [arguments...]')}`,
    '.br',
    `${bold('nsm help')} ${usageRoff('[command]')}`,
    '.SH DESCRIPTION',
    esc(sentence(program.description())),
    'It lists every namespace on the host as lsns(8) does, plus those held only by a bind mount or an open file descriptor;',
    'creates named environments whose namespaces a holder process keeps alive; runs commands in them as nsenter(1) and unshare(1) do;',
    'and checks that nothing of an environment is left when it is destroyed. It works as root and, with a user namespace, as any user.',
    '.PP',
    `Each command has its own page, and ${bold('nsm help')} ${italic('command')} prints its options and examples.`,
    '.SH COMMANDS',
    ...visible.map((d) => tp(`${[d.name, ...(d.aliases ?? [])].map(bold).join(', ')}`, `${esc(sentence(d.summary))}\nSee ${bold(pageName(d))}(1).`)),
    tp(`${bold('help')} [${italic('command')}]`, 'Print the help of nsm, or of one command.'),
    '.SH OPTIONS',
    optionsRoff(program),
    '.SH EXIT STATUS',
    statusRoff(EXIT_GENERAL),
    '.PP',
    `${bold('exec')}, ${bold('enter')} and ${bold('unshare')} exit with the status of the command they run:`,
    statusRoff(EXIT_RUNS_COMMAND),
    '.PP',
    `${bold('diff \\-q')}, ${bold('doctor')} and ${bold('destroy')} also answer with their status: see their pages.`,
    '.SH ENVIRONMENT',
    environmentRoff(undefined),
    '.SH FILES',
    filesRoff(),
    '.SH EXAMPLES',
    examplesRoff(PROGRAM_EXAMPLES),
    '.SH SEE ALSO',
    seeAlso('nsm'),
  ];
  return `${lines.join('\n')}\n`;
}

// ---- write -------------------------------------------------------------------------------

const program = buildProgram();
mkdirSync(outDir, { recursive: true });
// Pages of commands that no longer exist must not linger.
for (const file of readdirSync(outDir)) if (file.endsWith('.1')) rmSync(new URL(file, outDir));
writeFileSync(new URL('nsm.1', outDir), mainPage(program));
for (const decl of visible) {
  const cmd = program.commands.find((c) => c.name() === decl.name);
  writeFileSync(new URL(`${pageName(decl)}.1`, outDir), commandPage(decl, cmd));
}
