/**
 * The CLI's entry: build the commander program from the command table (only the command
 * being run in full), parse, run, and turn any error into one line on stderr and an exit code.
 */
import { buildProgram, findCommand } from './commands/program.js';
import { reportError } from './report.js';
import { EXIT_NSM_FAILED, UsageError } from './sys/errors.js';
import { adoptEarlyScan, type EarlyScan } from './sys/early-scan.js';
import { noteInheritedFds } from './sys/inherited-fds.js';

/**
 * A reader that went away (`nsm ls | head`) ends nsm at once and quietly, with the status a
 * C tool killed by SIGPIPE has (128+13); Node ignores SIGPIPE and would report EPIPE instead.
 */
function quietOnEpipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(141);
      throw err;
    });
  }
}

/** `nsm version`: the version is an option (-V, --version); commander suggests only commands. */
function versionHint(err: unknown): unknown {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (code === 'commander.unknownCommand' && typeof message === 'string' && message.includes("unknown command 'version'")) {
    return new UsageError("unknown command 'version' (did you mean --version?)");
  }
  return err;
}

export interface MainOptions {
  /** A host scan bin/nsm started before loading the CLI (only for `nsm ls`). */
  earlyScan?: EarlyScan;
}

export async function main(argv: readonly string[] = process.argv, options: MainOptions = {}): Promise<void> {
  adoptEarlyScan(options.earlyScan);
  // The subcommand is the first word after nsm: nsm's own options (-V, -h) end at it.
  const requested = findCommand(argv[2]);
  // `nsm --version` needs no command in full; help and anything unknown need them all.
  const version = argv[2] === '-V' || argv[2] === '--version';
  const program = buildProgram({ only: version ? '' : requested?.name });
  // enter/exec/unshare exit with the command's own status, so nsm's own failures
  // (usage errors included) use 125, as docker and podman do.
  const failureCode = requested?.runsCommand ? EXIT_NSM_FAILED : undefined;
  // The command exec/enter/unshare run inherits what nsm inherited (sys/inherited-fds.ts):
  // noted before nsm opens anything, Node's streams included.
  if (requested?.runsCommand) noteInheritedFds();
  // Help and the version go out through the descriptors too (buildProgram's configureOutput):
  // without a command, no Node stream is set up (on a pipe, node:net and node:stream load).
  const noCommand = argv[2] === undefined || ['-V', '--version', '-h', '--help', 'help'].includes(argv[2]);
  if (!requested?.lean && !noCommand) quietOnEpipe();
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    process.exitCode = reportError(versionHint(err), failureCode);
    // `nsm exec web -br`: the command is missing, or it starts with '-' and needs '--'.
    if (failureCode !== undefined && (err as { code?: unknown }).code === 'commander.unknownOption') {
      process.stderr.write("hint: nsm's options end where the command starts; put -- before a command that starts with -\n");
    }
  }
}
