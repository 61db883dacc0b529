import { Command } from 'commander';
import { execInEnvironment } from '../core/exec.js';
import { NS_TYPE_NAMES } from '../sys/nstypes.js';
import { UsageError } from '../sys/errors.js';
import { CommandRunningCommand } from './command-line.js';
import { collectTypes, parseWd } from './options.js';

const EXIT_HELP = `

nsm's options end where the command starts; put -- before a command that starts with -.

Exit status: the command's own; 128+N when it died of signal N; 126 not executable;
127 not found; 125 when nsm failed (unknown or dead environment, failed join).`;

function joinOptions(cmd: Command): Command {
  return cmd
    .option('-t, --type <types>', `join only these of its namespaces (${NS_TYPE_NAMES.join(', ')})`, collectTypes)
    .option('--wd <dir>', 'working directory inside (default: the current one if it exists there, else /)', parseWd);
}

export function execCommand(): Command {
  return joinOptions(
    new CommandRunningCommand('exec', 1)
      .alias('run')
      .summary("run a command in an environment's namespaces")
      .description("Run a command in all of an environment's namespaces (or those given with -t), with NSM_ENV=NAME set. stdin, stdout, stderr and the terminal pass through; SIGTERM and SIGHUP are forwarded.")
      .argument('<name>', 'environment name')
      .argument('<command...>', 'the command and its arguments'),
  )
    .addHelpText('after', `
Examples:
  nsm exec web ip -br addr
  nsm exec web -- ip -br addr           the same; -- ends nsm's options explicitly
  nsm exec -t net web ss -tlnp          only the network namespace
  nsm exec --wd /srv web ls${EXIT_HELP}`)
    .action(async (name: string, command: string[], opts: { type?: []; wd?: string }) => {
      process.exitCode = await execInEnvironment(name, command, { types: opts.type, cwd: opts.wd });
    });
}

export function enterCommand(): Command {
  return joinOptions(
    new CommandRunningCommand('enter', 1)
      .alias('shell')
      .summary("start a shell (or a command) in an environment's namespaces")
      .description("Start $SHELL (else /bin/sh) in all of an environment's namespaces, or run the command given after NAME. NSM_ENV=NAME is set, so a prompt can show it.")
      .argument('<name>', 'environment name')
      .argument('[command...]', 'a command instead of the shell'),
  )
    .addHelpText('after', `
Examples:
  nsm enter web
  nsm enter web bash --norc${EXIT_HELP}`)
    .action(async (name: string, command: string[], opts: { type?: []; wd?: string }) => {
      const argv = command.length > 0 ? command : [process.env.SHELL || '/bin/sh'];
      if (argv[0] === '') throw new UsageError('empty command');
      process.exitCode = await execInEnvironment(name, argv, { types: opts.type, cwd: opts.wd });
    });
}
