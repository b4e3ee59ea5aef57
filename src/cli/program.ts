import { Command, Option } from 'commander';
import type { GlobalOptions } from './context.ts';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * Declares every command and its flags. Actions live in ./commands and are imported when their
 * command runs, so a quick command does not load the coordinator or the agent.
 */
export function buildProgram(): Command {
  const program = new Command('syncctl')
    .description('Centrally managed backup and sync: a coordinator, agents on each machine, and this CLI')
    .option('--server <url>', 'coordinator URL (env SYNCCTL_SERVER; default the logged-in server or http://127.0.0.1:8080)')
    .option('--json', 'print one JSON document on stdout and no progress')
    .option('--admin-token <token>', 'admin token for admin commands (env SYNCCTL_ADMIN_TOKEN)')
    .showHelpAfterError()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  const globals = (command: Command): GlobalOptions => command.optsWithGlobals() as GlobalOptions;

  program
    .command('quickstart')
    .description('start a coordinator and an agent here, back up PATH daily and run the first backup; runs until Ctrl-C')
    .argument('<path>', 'folder to back up')
    .option('--data-dir <dir>', 'folder for the database, store and agent state (default ~/.local/share/syncctl/quickstart)')
    .option('--port <port>', 'coordinator port', '8080')
    .action(async (target: string, options, command: Command) => (await import('./commands/quickstart.ts')).quickstart(target, options, globals(command)));

  const coordinator = program.command('coordinator').description('run the coordinator');
  coordinator
    .command('start')
    .description('run the coordinator in the foreground until SIGINT or SIGTERM')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'TCP port; 0 picks a free one', '8080')
    .option('--data-dir <dir>', 'folder for the SQLite file, the local store and the admin token (env SYNCCTL_DATA_DIR)')
    .action(async (options) => (await import('./commands/coordinator-start.ts')).coordinatorStart(options));

  const company = program.command('company').description('companies (tenants)');
  company
    .command('register')
    .description('register a company and its first user (admin token required)')
    .requiredOption('--name <name>', 'company name')
    .requiredOption('--email <email>', 'email of the first user')
    .option('--password <password>', 'password of the first user, at least 8 characters (env SYNCCTL_PASSWORD)')
    .action(async (options, command: Command) => (await import('./commands/company.ts')).companyRegister(options, globals(command)));
  company
    .command('installer')
    .description("download the company's agent installer")
    .option('--company <id>', 'company id (default: the logged-in company)')
    .requiredOption('--out <dir>', 'folder to write the installer into')
    .action(async (options, command: Command) => (await import('./commands/company.ts')).companyInstaller(options, globals(command)));

  program
    .command('login')
    .description('open a session and save it for later commands')
    .requiredOption('--email <email>', 'user email')
    .option('--password <password>', 'user password (env SYNCCTL_PASSWORD, which keeps it out of shell history)')
    .action(async (options, command: Command) => (await import('./commands/session.ts')).loginCommand(options, globals(command)));
  program
    .command('logout')
    .description('end the saved session')
    .action(async (_options, command: Command) => (await import('./commands/session.ts')).logoutCommand(globals(command)));

  const agent = program.command('agent').description('run the agent on this machine');
  agent
    .command('start')
    .description('enroll if needed, then run the agent in the foreground until SIGINT or SIGTERM')
    .option('--installer <file>', 'installer file from "syncctl company installer" (needed on first start only)')
    .option('--state-dir <dir>', 'folder for the agent state (env SYNCCTL_AGENT_STATE_DIR; default ~/.config/syncctl/agent)')
    .option('--name <name>', 'resource name shown in "resource list" (default: host name)')
    .action(async (options) => (await import('./commands/agent-start.ts')).agentStart(options));

  const resource = program.command('resource').description('machines that run the agent');
  resource
    .command('list')
    .description("list a company's resources")
    .option('--company <id>', 'company id (default: the logged-in company)')
    .action(async (options, command: Command) => (await import('./commands/resource-list.ts')).resourceList(options, globals(command)));

  declareBackupCommands(program.command('backup').description('backup configs, runs, snapshots and restores'), globals, collect);
  declareSyncCommands(program.command('sync').description("sync configs: a source resource's folders mirrored onto destinations"), globals, collect);

  program
    .command('share')
    .description('send one file to a resource')
    .argument('<file>', 'local file to send')
    .option('--company <id>', 'company id (default: the logged-in company)')
    .requiredOption('--resource <id>', 'resource to send it to')
    .option('--to <dir>', "absolute folder on the resource (default: the agent's downloads folder)")
    .option('--wait', 'wait until the file is stored on the resource')
    .action(async (file: string, options, command: Command) => (await import('./commands/share.ts')).share(file, options, globals(command)));
  return program;
}

function declareSyncCommands(sync: Command, globals: (command: Command) => GlobalOptions, many: typeof collect): void {
  const companyOption = () => new Option('--company <id>', 'company id (default: the logged-in company)');
  const load = () => import('./commands/sync-configs.ts');

  sync
    .command('add')
    .description('create a sync config; the source pushes what is there now, then every change')
    .addOption(companyOption())
    .requiredOption('--resource <id>', 'source resource')
    .requiredOption('--name <name>', 'config name')
    .requiredOption('--path <dir>', 'absolute folder to mirror; repeat for more', many)
    .option('--exclude <glob>', 'glob to leave out; repeat for more', many)
    .requiredOption('--dest <rid[=dir]>', 'destination resource, optionally with the folder to map each path onto; repeat for more', many)
    .option('--disabled', 'create the config disabled')
    .action(async (options, command: Command) => (await load()).syncAdd(options, globals(command)));
  sync
    .command('list')
    .description("list the company's sync configs")
    .addOption(companyOption())
    .action(async (options, command: Command) => (await load()).syncList(options, globals(command)));
  sync
    .command('show')
    .description('show one sync config')
    .argument('<id>', 'config id')
    .addOption(companyOption())
    .action(async (id: string, options, command: Command) => (await load()).syncShow(id, options, globals(command)));
  sync
    .command('update')
    .description('change a sync config')
    .argument('<id>', 'config id')
    .addOption(companyOption())
    .option('--name <name>', 'new name')
    .option('--resource <id>', 'new source resource')
    .option('--path <dir>', 'replace the folders to mirror; repeat for more', many)
    .option('--exclude <glob>', 'replace the exclude globs; repeat for more', many)
    .option('--dest <rid[=dir]>', 'replace the destinations; repeat for more', many)
    .option('--enable', 'enable the config')
    .option('--disable', 'disable the config')
    .action(async (id: string, options, command: Command) => (await load()).syncUpdate(id, options, globals(command)));
  sync
    .command('delete')
    .description('delete a sync config; files already on destinations stay')
    .argument('<id>', 'config id')
    .addOption(companyOption())
    .action(async (id: string, options, command: Command) => (await load()).syncDelete(id, options, globals(command)));
  sync
    .command('status')
    .description('per destination: in sync, pending count, conflicts and last error')
    .argument('<id>', 'config id')
    .addOption(companyOption())
    .action(async (id: string, options, command: Command) => (await load()).syncStatus(id, options, globals(command)));
}

function declareBackupCommands(backup: Command, globals: (command: Command) => GlobalOptions, many: typeof collect): void {
  const companyOption = () => new Option('--company <id>', 'company id (default: the logged-in company)');

  backup
    .command('add')
    .description('create a backup config; its first full backup starts at once')
    .addOption(companyOption())
    .option('--resource <id>', 'resource to back up (default: every resource of the company, also ones enrolled later)')
    .requiredOption('--name <name>', 'config name')
    .requiredOption('--path <dir>', 'absolute path to back up; repeat for more', many)
    .option('--exclude <glob>', 'glob to leave out ("*.tmp", "node_modules", "/home/a/**/cache"); repeat for more', many)
    .option('--every <interval>', 'run every N minutes, hours, days or weeks: 30m, 6h, 1d, 1w')
    .option('--cron <expr>', 'run on a cron expression such as "0 3 * * *"')
    .option('--disabled', 'create the config disabled')
    .action(async (options, command: Command) => (await import('./commands/backup-configs.ts')).backupAdd(options, globals(command)));
  backup
    .command('list')
    .description("list the company's backup configs")
    .addOption(companyOption())
    .action(async (options, command: Command) => (await import('./commands/backup-configs.ts')).backupList(options, globals(command)));
  backup
    .command('show')
    .description('show one backup config')
    .argument('<id>', 'config id')
    .addOption(companyOption())
    .action(async (id: string, options, command: Command) => (await import('./commands/backup-configs.ts')).backupShow(id, options, globals(command)));
  backup
    .command('update')
    .description('change a backup config')
    .argument('<id>', 'config id')
    .addOption(companyOption())
    .option('--name <name>', 'new name')
    .option('--resource <id>', 'apply to this resource only')
    .option('--all-resources', 'apply to every resource of the company')
    .option('--path <dir>', 'replace the paths to back up; repeat for more', many)
    .option('--exclude <glob>', 'replace the exclude globs; repeat for more', many)
    .option('--every <interval>', 'new interval: 30m, 6h, 1d, 1w')
    .option('--cron <expr>', 'new cron expression')
    .option('--enable', 'enable the config')
    .option('--disable', 'disable the config')
    .action(async (id: string, options, command: Command) => (await import('./commands/backup-configs.ts')).backupUpdate(id, options, globals(command)));
  backup
    .command('delete')
    .description('delete a backup config; its snapshots stay restorable')
    .argument('<id>', 'config id')
    .addOption(companyOption())
    .action(async (id: string, options, command: Command) => (await import('./commands/backup-configs.ts')).backupDelete(id, options, globals(command)));
  backup
    .command('run')
    .description('run a backup now')
    .argument('<id>', 'config id')
    .addOption(companyOption())
    .option('--resource <id>', 'resource to back up (default: every resource of the config)')
    .option('--wait', 'wait for the snapshot and print it')
    .action(async (id: string, options, command: Command) => (await import('./commands/backup-runs.ts')).backupRun(id, options, globals(command)));
  backup
    .command('snapshots')
    .description("list a config's snapshots")
    .argument('<id>', 'config id')
    .addOption(companyOption())
    .option('--resource <id>', 'only snapshots of this resource')
    .action(async (id: string, options, command: Command) => (await import('./commands/backup-runs.ts')).backupSnapshots(id, options, globals(command)));
  backup
    .command('restore')
    .description('restore a snapshot under a folder, keeping absolute paths (/data/a.txt lands at DIR/data/a.txt)')
    .argument('<id>', 'config id')
    .addOption(companyOption())
    .requiredOption('--resource <id>', 'resource whose snapshot to restore')
    .option('--snapshot <id>', 'snapshot id or "latest"', 'latest')
    .requiredOption('--to <dir>', 'folder to restore into')
    .option('--on <id>', 'resource to restore onto (default: the one that made the backup)')
    .option('--path <sub>', 'restore only this path of the snapshot and what is below it')
    .option('--wait', 'wait for the restore to finish')
    .action(async (id: string, options, command: Command) => (await import('./commands/backup-runs.ts')).backupRestore(id, options, globals(command)));
}
